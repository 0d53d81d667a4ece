package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/localapi"
)

// sandboxImages is nodeImages whose pod sb1's sandbox runs pause.
type sandboxImages struct {
	nodeImages
	pause string
}

func (s sandboxImages) SandboxImage(_ context.Context, id string) (string, digest.Digest, error) {
	if id != "sb1" {
		return s.nodeImages.SandboxImage(context.Background(), id)
	}
	return s.pause, "sha256:chain", nil
}

// A pod's sandbox is judged again with the running containers: a key
// revoked on the pause image shows the sandbox untrusted in `signgate ps`
// and the metric, and under on_untrusted_running = "stop" its task is
// stopped (which stops the pod) once the denial is confirmed.
func TestRunningSandboxJudgedAgainWhenItsKeyIsRevoked(t *testing.T) {
	v, d, logs, img, tasks := vaultNode(t)
	pause := img.Context().Name() + ":v1"
	d.plugin.Runtime = imagestore.Runtime{Records: sandboxImages{nodeImages{pause: img}, pause}}
	tasks.mu.Lock()
	tasks.running["sb1"] = true
	tasks.mu.Unlock()
	tasks.stopped = make(chan string, 2)
	cfgWithStop(t, d)
	clock := newFakeClock(d)
	if err := d.plugin.RunPodSandbox(t.Context(), &api.PodSandbox{Id: "sb1", Name: "web", Namespace: "default"}); err != nil {
		t.Fatal(err)
	}

	sandbox := func(r localapi.RunningResponse) localapi.RunningContainer {
		t.Helper()
		for _, c := range r.Containers {
			if c.ID == "sb1" {
				return c
			}
		}
		t.Fatalf("the sandbox is not listed: %+v", r)
		return localapi.RunningContainer{}
	}
	if sb := sandbox(d.JudgeRunning(t.Context(), "test")); sb.Verdict != localapi.RunningTrusted || !sb.Sandbox || sb.Container != "(sandbox)" || sb.Pod != "web" || sb.Digest != img.DigestStr() || sb.Image != pause {
		t.Fatalf("before the revocation: %+v", sb)
	}

	v.Rotate(t, "release")
	v.SetMinDecryptionVersion("release", 2)
	if changes, err := d.SyncKeys(t.Context()); err != nil || len(changes) == 0 {
		t.Fatalf("sync: %v %v", changes, err)
	}
	if sb := sandbox(d.ReportRunning(t.Context())); sb.Verdict != localapi.RunningUntrusted || sb.Cause != "untrusted" || !sb.Sandbox {
		t.Fatalf("ps after the revocation: %+v", sb)
	}
	if sb := sandbox(d.JudgeRunning(t.Context(), "test")); !strings.HasPrefix(sb.Action, "stop pending: confirming untrusted") {
		t.Fatalf("first judgement after the revocation: %+v", sb)
	}
	clock.mu.Lock()
	clock.t = clock.t.Add(time.Minute)
	clock.mu.Unlock()
	d.JudgeRunning(t.Context(), "test")
	want := map[string]bool{"sb1 " + stopGrace.String(): true, "c1 " + stopGrace.String(): true}
	for range want {
		select {
		case got := <-tasks.stopped:
			if !want[got] {
				t.Fatalf("stopped %s", got)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the sandbox was not stopped; log:\n%s", logs)
		}
	}
	waitFor(t, func() bool {
		return strings.Contains(logs.String(), `"sandbox":true`) || strings.Contains(logs.String(), "sandbox=true")
	})
}
