package daemon

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
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
		now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
		d.running.now = func() time.Time { return now }
		for range 3 {
			now = now.Add(time.Hour)
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

// fakeClock is the running loop's clock, moved by the test: every timer
// the loop sets fires when the clock is advanced.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	fire chan time.Time
}

func newFakeClock(d *Daemon) *fakeClock {
	c := &fakeClock{t: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), fire: make(chan time.Time)}
	d.running.now = c.now
	d.running.after = func(time.Duration) <-chan time.Time { return c.fire }
	return c
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance moves the clock and fires the loop's timer (the loop must be
// running).
func (c *fakeClock) advance(by time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(by)
	now := c.t
	c.mu.Unlock()
	c.fire <- now
}

// acted is what the loop last did about container id.
func (*fakeClock) acted(d *Daemon, id string) string {
	d.running.mu.Lock()
	defer d.running.mu.Unlock()
	return d.running.acted[id]
}

// allows trusts every image.
type allows struct{}

func (allows) Decide(_ context.Context, req verify.Request) *verify.Verdict {
	return &verify.Verdict{Image: req.Image.Context().String(), Digest: req.Image.DigestStr(), Policy: "release", Mode: verify.Enforce, Allowed: true, Verified: true, Cause: verify.CauseVerified}
}

// A final denial stops a running container only when the same cause is
// seen again at least stop_confirm (1m) later: a signature tag a mirror
// or a registry's GC lost for a moment stops nothing. Another cause, or
// the image trusted again, starts the wait over; a registry error in
// between neither confirms nor refutes. The clock is the test's.
func TestAStopWaitsForTheSameDenialAgainAMinuteLater(t *testing.T) {
	d, tasks := stopNode(t, denies{verify.CauseNoSignatures})
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.running.now = func() time.Time { return now }
	judge := func(dec nri.Decider, after time.Duration) string {
		t.Helper()
		now = now.Add(after)
		d.plugin.Decider = dec
		return d.JudgeRunning(t.Context(), "test").Containers[0].Action
	}
	if a := judge(denies{verify.CauseNoSignatures}, 0); a != "stop pending: confirming no_signatures at 2026-12-06T12:01:00Z" {
		t.Fatalf("first denial: %s", a)
	}
	if wait, ok := d.running.confirmDue(); !ok || wait != time.Minute {
		t.Fatalf("the loop is to judge again in %s (%v), want 1m", wait, ok)
	}
	for _, step := range []struct {
		dec   nri.Decider
		after time.Duration
		want  string
	}{
		{denies{verify.CauseNoSignatures}, 30 * time.Second, "stop pending: confirming no_signatures at 2026-12-06T12:01:00Z"},
		{allows{}, 20 * time.Second, ""}, // trusted again: the wait starts over
		{denies{verify.CauseNoSignatures}, 20 * time.Second, "stop pending: confirming no_signatures at 2026-12-06T12:02:10Z"},
		{denies{verify.CauseUntrusted}, 70 * time.Second, "stop pending: confirming untrusted at 2026-12-06T12:03:20Z"}, // another cause: over again
		{denies{verify.CauseRateLimited}, 30 * time.Second, "stop deferred: the verdict is not final (rate_limited)"},
		{denies{verify.CauseUntrusted}, 20 * time.Second, "stop pending: confirming untrusted at 2026-12-06T12:03:20Z"},
	} {
		if a := judge(step.dec, step.after); a != step.want {
			t.Fatalf("at %s: %q, want %q", now.Format(time.TimeOnly), a, step.want)
		}
		if stopped(d, tasks) {
			t.Fatalf("stopped at %s, unconfirmed", now.Format(time.TimeOnly))
		}
	}
	if a := judge(denies{verify.CauseUntrusted}, 10*time.Second); a != "stop: stopping" {
		t.Fatalf("confirmed a minute later: %q", a)
	}
	if got := <-tasks.stopped; got != "c1 "+stopGrace.String() {
		t.Fatalf("stopped %s", got)
	}
}

// The confirmation waits at least cache.deny_ttl too: sooner, the second
// judgement would be answered by the first's cached denial, not by the
// registry again.
func TestAStopWaitsOutTheDenyTTL(t *testing.T) {
	d, tasks := stopNode(t, denies{verify.CauseUntrusted})
	b, err := os.ReadFile(d.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.path, []byte("[cache]\ndeny_ttl = \"5m\"\n"+string(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	d.plugin.Decider = denies{verify.CauseUntrusted}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.running.now = func() time.Time { return now }
	for _, after := range []time.Duration{0, 2 * time.Minute, 2*time.Minute + 59*time.Second} {
		now = now.Add(after)
		if a := d.JudgeRunning(t.Context(), "test").Containers[0].Action; a != "stop pending: confirming untrusted at 2026-12-06T12:05:00Z" {
			t.Fatalf("at %s: %q", now.Format(time.TimeOnly), a)
		}
	}
	now = now.Add(time.Second)
	if a := d.JudgeRunning(t.Context(), "test").Containers[0].Action; a != "stop: stopping" {
		t.Fatalf("after deny_ttl: %q", a)
	}
	<-tasks.stopped
}

// `signgate ps` reports and never acts: under "stop", a container its
// policy no longer trusts is listed untrusted, however often and however
// long apart ps asks, and left running; only the loop stops it.
func TestPsDoesNotStop(t *testing.T) {
	d, tasks := stopNode(t, denies{verify.CauseUntrusted})
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.running.now = func() time.Time { return now }
	for range 3 {
		rec := httptest.NewRecorder()
		d.handleRunning(rec, httptest.NewRequest("GET", localapi.PathRunning, nil))
		var resp localapi.RunningResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Containers) != 1 {
			t.Fatalf("GET %s: %v %s", localapi.PathRunning, err, rec.Body)
		}
		if stopped(d, tasks) {
			t.Fatalf("signgate ps stopped a running container: %s", rec.Body)
		}
		if rc := resp.Containers[0]; rc.Verdict != "untrusted" || rc.Action != "stop: not acted on yet (ps only reports; the next judgement acts)" {
			t.Fatalf("ps: %+v", rc)
		}
		now = now.Add(time.Hour)
	}
	// The loop's judgement acts, and ps shows what it did.
	d.JudgeRunning(t.Context(), "test")
	if rc := d.ReportRunning(t.Context()).Containers[0]; !strings.HasPrefix(rc.Action, "stop pending: confirming untrusted") {
		t.Fatalf("ps after the loop judged: %+v", rc)
	}
}

// A verdict the registry did not give (registry_error, rate_limited,
// pending) stops nothing, and is asked again a stop_confirm later on the
// loop's own clock, with no change to trigger it: a revocation the outage
// hid is then caught, and stops once confirmed. A doubt the registry
// cannot resolve (misconfigured) is not asked again on a timer.
func TestARegistryErrorIsAskedAgain(t *testing.T) {
	d, tasks := stopNode(t, denies{verify.CauseMisconfigured})
	clock := newFakeClock(d)
	if a := d.JudgeRunning(t.Context(), "test").Containers[0].Action; !strings.HasPrefix(a, "stop deferred") {
		t.Fatalf("misconfigured: %q", a)
	}
	if wait, ok := d.running.againDue(); ok {
		t.Fatalf("misconfigured is asked again in %s", wait)
	}
	for _, c := range []verify.Cause{verify.CauseRateLimited, verify.CausePending, verify.CauseRegistryError} {
		d.plugin.Decider = denies{c}
		if a := d.JudgeRunning(t.Context(), "test").Containers[0].Action; a != "stop deferred: the verdict is not final ("+string(c)+")" {
			t.Fatalf("%s: %q", c, a)
		}
		if wait, ok := d.running.againDue(); !ok || wait != time.Minute {
			t.Fatalf("%s: asked again in %s (%v), want 1m", c, wait, ok)
		}
	}
	d.plugin.Decider = denies{verify.CauseUntrusted} // the registry answers again
	select {
	case <-d.running.due: // NRI's Synchronize asked; the timer is what is tested
	default:
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go d.runningLoop(ctx)
	clock.advance(time.Minute)
	waitFor(t, func() bool { return strings.HasPrefix(clock.acted(d, "c1"), "stop pending: confirming untrusted") })
	if stopped(d, tasks) {
		t.Fatal("stopped unconfirmed")
	}
	clock.advance(time.Minute)
	select {
	case <-tasks.stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the revocation the registry error hid was not caught")
	}
}
