package nri

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/verify"
)

// fakeRuntime answers what runs as the test says: any runtime's answer,
// not containerd's.
type fakeRuntime struct {
	runs      containers.Runs
	sandbox   containers.Image
	asCreated *containers.Doubt
}

var _ containers.Runtime = (*fakeRuntime)(nil)

func (f *fakeRuntime) Runs(context.Context, *api.PodSandbox, *api.Container) containers.Runs {
	return f.runs
}

func (f *fakeRuntime) Ran(context.Context, *api.PodSandbox, *api.Container) containers.Runs {
	return f.runs
}

func (f *fakeRuntime) Sandbox(context.Context, *api.PodSandbox) containers.Image { return f.sandbox }

func (f *fakeRuntime) AsCreated(context.Context, *api.Container, name.Digest) *containers.Doubt {
	return f.asCreated
}

// TestDecidesOnTheAnswerAlone: whatever a runtime could not establish, or
// found contradicted, refuses the container with the cause it calls for,
// naming the image; an answer with no name at all is a refusal too. Only
// an established answer reaches the engine.
func TestDecidesOnTheAnswerAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := dig(t, "reg.io/good@sha256:"+hexOf('1'))
	bound := containers.Image{Ref: "reg.io/good:v1", Names: []name.Digest{good}}
	pod := &api.PodSandbox{Id: "sb", Name: "pod", Namespace: "default"}
	c := &api.Container{Id: "c", Name: "c"}
	for _, tc := range []struct {
		name  string
		runs  containers.Runs
		cause verify.Cause
		image string
	}{
		{"unknown", containers.Runs{Root: containers.Image{Ref: "x:v1", Doubt: &containers.Doubt{Kind: containers.Unknown, Image: "x:v1", Reason: "cannot tell"}}}, verify.CauseImageUnknown, "x:v1"},
		{"disagrees", containers.Runs{Root: containers.Image{Ref: "x:v1", Doubt: &containers.Doubt{Kind: containers.Disagrees, Image: "x:v1", Reason: "two answers"}}}, verify.CauseImageMismatch, "x:v1"},
		{"not built from", containers.Runs{Root: containers.Image{Ref: "reg.io/good:v1", Names: []name.Digest{good}, Doubt: &containers.Doubt{Kind: containers.NotBuiltFrom, Name: &good, Reason: "other layers"}}}, verify.CauseRootFSMismatch, "reg.io/good"},
		{"no name", containers.Runs{Root: containers.Image{Ref: "x:v1"}}, verify.CauseImageUnknown, "x:v1"},
		{"a mount doubted", containers.Runs{Root: bound, Mounts: []containers.Image{{Ref: `"/bad"`, Doubt: &containers.Doubt{Image: `"/bad"`, Reason: "cannot bind"}}}}, verify.CauseImageUnknown, `"/bad"`},
		{"a mount without a name", containers.Runs{Root: bound, Mounts: []containers.Image{{Ref: "the image volume at /v"}}}, verify.CauseImageUnknown, "the image volume at /v"},
	} {
		eng := &fakeEngine{trusted: map[string]bool{"reg.io/good": true}}
		rec := &recorded{}
		p := &Plugin{Runtime: &fakeRuntime{runs: tc.runs}, Decider: eng, Recorder: rec, Deadline: time.Second}
		if _, _, err := p.CreateContainer(ctx, pod, c); err == nil {
			t.Errorf("%s: created", tc.name)
			continue
		}
		last := rec.ds[len(rec.ds)-1]
		if last.Verdict.Cause != tc.cause || last.Verdict.Image != tc.image {
			t.Errorf("%s: refused as %s naming %q, want %s naming %q", tc.name, last.Verdict.Cause, last.Verdict.Image, tc.cause, tc.image)
		}
		if tc.runs.Mounts == nil && len(eng.asked) != 0 {
			t.Errorf("%s: the engine was asked about %v", tc.name, eng.asked)
		}
	}

	// The sandbox, and the record at start, are refused on doubt alike.
	rt := &fakeRuntime{runs: containers.Runs{Root: bound}, sandbox: containers.Image{Ref: "pause:3", Doubt: &containers.Doubt{Image: "pause:3", Reason: "no record"}}}
	p := &Plugin{Runtime: rt, Decider: &fakeEngine{trusted: map[string]bool{"reg.io/good": true}}, Deadline: time.Second}
	if err := p.RunPodSandbox(ctx, pod); err == nil || !strings.Contains(err.Error(), "no record") {
		t.Fatalf("a doubted sandbox: %v", err)
	}
	if err := p.StartContainer(ctx, pod, c); err != nil {
		t.Fatalf("an established container at start: %v", err)
	}
	rt.asCreated = &containers.Doubt{Kind: containers.NotBuiltFrom, Name: &good, Reason: "created with another config"}
	if err := p.StartContainer(ctx, pod, c); err == nil || !strings.Contains(err.Error(), "created with another config") {
		t.Fatalf("a doubted record at start: %v", err)
	}
}
