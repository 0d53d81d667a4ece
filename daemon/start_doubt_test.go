package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/verify"
)

// doubtAtStart is a runtime whose record of a container, at start,
// contradicts the image verified at creation (as CRI-O's may).
type doubtAtStart struct {
	containers.Runtime
	doubt *containers.Doubt
}

func (r doubtAtStart) AsCreated(context.Context, *api.Container, name.Digest) *containers.Doubt {
	return r.doubt
}

// A container whose start signgate refused on a doubt about which image
// runs (rootfs_mismatch), and which CRI-O ran all the same, is untrusted
// with that cause for as long as it runs, and under on_untrusted_running
// = "stop" is stopped, once confirmed like any final denial: it runs
// against signgate's word. The image itself is trusted.
func TestRefusedStartDoubtIsStopped(t *testing.T) {
	d, tasks := stopNode(t, denies{verify.CauseUntrusted})
	d.plugin.Decider = allows{}
	img, _ := name.NewDigest("reg.io/app@sha256:" + strings.Repeat("1", 64))
	rt := doubtAtStart{Runtime: d.plugin.Runtime}
	d.plugin.Runtime = rt
	pod := &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}
	c := &api.Container{Id: "c2", Name: "side", PodSandboxId: "sb1", Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/app:v1"}}
	if _, _, err := d.plugin.CreateContainer(t.Context(), pod, c); err != nil {
		t.Fatal(err)
	}
	rt.doubt = &containers.Doubt{Kind: containers.NotBuiltFrom, Name: &img, Reason: "created with another config"}
	d.plugin.Runtime = rt
	if err := d.plugin.StartContainer(t.Context(), pod, c); err == nil {
		t.Fatal("a start the runtime's record contradicts was not refused")
	}
	if err := d.plugin.PostStartContainer(t.Context(), pod, c); err != nil { // CRI-O ran it
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.running.now = func() time.Time { return now }
	judge := func() localapi.RunningContainer {
		t.Helper()
		for _, rc := range d.JudgeRunning(t.Context(), "test").Containers {
			if rc.ID == "c2" {
				return rc
			}
		}
		t.Fatal("c2 not judged")
		return localapi.RunningContainer{}
	}
	rc := judge()
	if rc.Verdict != localapi.RunningUntrusted || rc.Cause != string(verify.CauseRootFSMismatch) || rc.Action != "stop pending: confirming rootfs_mismatch at 2026-12-06T12:01:00Z" {
		t.Fatalf("first judgement: %+v", rc)
	}
	now = now.Add(time.Minute)
	if rc := judge(); rc.Action != "stop: stopping" {
		t.Fatalf("confirmed a minute later: %+v", rc)
	}
	if got := <-tasks.stopped; got != "c2 "+stopGrace.String() {
		t.Fatalf("stopped %s", got)
	}
}

// noTaskList cannot list the node's tasks; it records the stops asked.
type noTaskList struct{ stops chan string }

func (noTaskList) RunningTasks(context.Context) (map[string]bool, error) {
	return nil, errors.New("containerd: unavailable")
}

func (n noTaskList) StopTask(_ context.Context, id string, _ time.Duration) error {
	n.stops <- id
	return nil
}

// On containerd, which honours a refused start, the container never ran:
// with no task list to ask, it is not judged (nor stopped), while a
// container known to run still is.
func TestRefusedStartNeverRanIsNotJudged(t *testing.T) {
	d, _ := stopNode(t, denies{verify.CauseUntrusted})
	d.running.tasks = noTaskList{stops: make(chan string, 2)}
	pod := &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}
	c := &api.Container{Id: "c2", Name: "side", PodSandboxId: "sb1", Annotations: map[string]string{containers.ImageNameAnnotation: "reg.io/app:v1"}}
	if err := d.plugin.StartContainer(t.Context(), pod, c); err == nil {
		t.Fatal("an untrusted start was not refused")
	}
	var got []string
	for _, rc := range d.JudgeRunning(t.Context(), "test").Containers {
		got = append(got, rc.ID)
	}
	if strings.Join(got, " ") != "sb1 c1" { // the pod's sandbox, and c1
		t.Fatalf("judged %v with no task list, want sb1 c1", got)
	}
}
