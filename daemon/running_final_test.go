package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/verify"
)

// denies answers every request with a denial of one cause, as the engine
// would for a registry that answers 429, one that is down, and so on.
type denies struct{ cause verify.Cause }

func (d denies) Decide(_ context.Context, req verify.Request) *verify.Verdict {
	return &verify.Verdict{Image: req.Image.Context().String(), Digest: req.Image.DigestStr(), Policy: "release", Mode: verify.Enforce, Cause: d.cause, Reason: "denied: " + string(d.cause)}
}

// stopNode is a daemon whose policy stops untrusted running containers,
// with c1 running, judged by dec.
func stopNode(t *testing.T, dec denies) (*Daemon, *nodeTasks) {
	t.Helper()
	d, _, _ := kmsDaemon(t, t.TempDir(), "")
	cfgWithStop(t, d)
	img, _ := name.NewDigest("reg.io/app@sha256:" + strings.Repeat("1", 64))
	tasks := runningNode(t, d, "reg.io/app:v1", img)
	d.plugin.Decider = dec
	return d, tasks
}

// stopped reports whether a stop of c1 was asked for.
func stopped(d *Daemon, tasks *nodeTasks) bool {
	d.running.stopMu.Lock()
	_, stopping := d.running.stopping["c1"]
	d.running.stopMu.Unlock()
	select {
	case <-tasks.stopped:
		return true
	default:
	}
	return stopping
}

// Under on_untrusted_running = "stop", only a final denial stops a
// running container: a registry that answers 429 (rate_limited), one that
// cannot be read, a verification still pending, a policy that cannot be
// applied, and every doubt about which image runs stop nothing, however
// often and however long apart they are seen.
func TestOnlyAFinalDenialStopsARunningContainer(t *testing.T) {
	for _, c := range []verify.Cause{verify.CauseRateLimited, verify.CauseRegistryError, verify.CausePending, verify.CauseMisconfigured,
		verify.CauseImageUnknown, verify.CauseImageMismatch, verify.CauseRootFSMismatch, verify.CauseBadName} {
		d, tasks := stopNode(t, denies{c})
		for range 3 {
			rc := d.JudgeRunning(t.Context(), "test").Containers[0]
			if rc.Verdict != "untrusted" || rc.Cause != string(c) || !strings.HasPrefix(rc.Action, "stop deferred") {
				t.Fatalf("%s: %+v", c, rc)
			}
		}
		if stopped(d, tasks) {
			t.Errorf("%s stopped the running container", c)
		}
	}
}
