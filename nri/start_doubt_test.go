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

// A start refused because the runtime's record contradicts the image
// verified at creation (AsCreated's doubt), which CRI-O runs all the same,
// stays refused for as long as it runs: judging it again re-checks only
// the image verified at creation, which would trust it. The refusal is
// its verdict, same cause and reason, marked as signgate's refused start
// (final for the stop path), and kept across a Synchronize.
func TestRefusedStartDoubtIsItsVerdict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := dig(t, "reg.io/good@sha256:"+hexOf('1'))
	rt := &fakeRuntime{runs: containers.Runs{Root: containers.Image{Ref: "reg.io/good:v1", Names: []name.Digest{good}}}}
	p := &Plugin{Runtime: rt, Decider: &fakeEngine{trusted: map[string]bool{"reg.io/good": true}}, Deadline: time.Second}
	pod := &api.PodSandbox{Id: "sb", Name: "pod", Namespace: "default"}
	c := &api.Container{Id: "c", Name: "c", PodSandboxId: "sb", Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/good:v1"}}
	if _, _, err := p.CreateContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	rt.asCreated = &containers.Doubt{Kind: containers.NotBuiltFrom, Name: &good, Reason: "created with another config"}
	if err := p.StartContainer(ctx, pod, c); err == nil || !strings.Contains(err.Error(), "created with another config") {
		t.Fatalf("a doubted record at start: %v", err)
	}
	if err := p.PostStartContainer(ctx, pod, c); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		j, ok := p.Judge(ctx, "c")
		v := j.Decision.Verdict
		if !ok || v == nil || v.Allowed || v.Cause != verify.CauseRootFSMismatch || !strings.Contains(v.Reason, "created with another config") || !j.RefusedStart {
			t.Fatalf("%s: judged %+v (refused start %v, known %v)", when, v, j.RefusedStart, ok)
		}
	}
	check("after post-start")
	c.State = api.ContainerState_CONTAINER_RUNNING
	if _, err := p.Synchronize(ctx, []*api.PodSandbox{pod}, []*api.Container{c}); err != nil {
		t.Fatal(err)
	}
	check("after a Synchronize")
}

// Where the runtime honours a refused start (containerd), no post-start
// comes: the container is marked RefusedOnly, so that with no task list
// to ask, the daemon does not judge (and stop) what never ran.
func TestRefusedStartWithoutPostStartIsRefusedOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := ctr("c-bad", "reg.io/bad:v1")
	if err := f.p.StartContainer(context.Background(), f.pod, c); err == nil {
		t.Fatal("an untrusted container started")
	}
	if rc := f.p.Running()[0]; !rc.RefusedOnly || rc.StartedRefused {
		t.Fatalf("before a post-start: %+v", rc)
	}
	if err := f.p.PostStartContainer(context.Background(), f.pod, c); err != nil {
		t.Fatal(err)
	}
	if rc := f.p.Running()[0]; rc.RefusedOnly || !rc.StartedRefused {
		t.Fatalf("after a post-start: %+v", rc)
	}
}
