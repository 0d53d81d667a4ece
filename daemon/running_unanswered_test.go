package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/verify"
)

// unansweredNode is stopNode with the policy's stop_unanswered_after set
// to limit ("" leaves it unset), its log, and the test's clock.
func unansweredNode(t *testing.T, limit string) (*Daemon, *nodeTasks, *syncedBuffer, *time.Time) {
	t.Helper()
	d, log, _ := kmsDaemon(t, t.TempDir(), "")
	cfgWithStop(t, d)
	if limit != "" {
		b, err := os.ReadFile(d.path)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Replace(string(b), "on_untrusted_running = \"stop\"\n", "on_untrusted_running = \"stop\"\nstop_unanswered_after = \""+limit+"\"\n", 1)
		if err := os.WriteFile(d.path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := d.Reload(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-d.running.due:
		default:
		}
	}
	img, _ := name.NewDigest("reg.io/app@sha256:" + strings.Repeat("1", 64))
	tasks := runningNode(t, d, "reg.io/app:v1", img)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.running.now = func() time.Time { return now }
	return d, tasks, log, &now
}

// judgeAfter is a judge of d's one running container: the test's clock
// (now) moved on by after, the decider dec.
func judgeAfter(t *testing.T, d *Daemon, now *time.Time) func(dec nri.Decider, after time.Duration) localapi.RunningContainer {
	return func(dec nri.Decider, after time.Duration) localapi.RunningContainer {
		t.Helper()
		*now = now.Add(after)
		d.plugin.Decider = dec
		return d.JudgeRunning(t.Context(), "test").Containers[0]
	}
}

// Under stop_unanswered_after = "1h", a running container the registry
// leaves unanswered (registry_error with no HTTP answer: refused, timed
// out; pending; in any mix)
// for less than an hour is not stopped; an answer in between (the image
// trusted, or a final denial) starts the hour over; an hour of silence
// after the last answer stops it, with a reason of its own, as a
// confirmed final denial does. Meanwhile ps, the log and
// signgate_running_unanswered_seconds say how long it has been
// unanswered, and the loop is due to judge again at the limit. The clock
// is the test's.
func TestARegistryThatNeverAnswersStopsAfterTheLimit(t *testing.T) {
	d, tasks, log, now := unansweredNode(t, "1h")
	judge := judgeAfter(t, d, now)
	deferred := func(c verify.Cause, at string) string {
		return "stop deferred: the verdict is not final (" + string(c) + "); stopped at " + at + " unless the registry answers (stop_unanswered_after)"
	}
	for _, step := range []struct {
		dec   nri.Decider
		after time.Duration
		want  string
	}{
		{denies{verify.CauseRegistryError}, 0, deferred(verify.CauseRegistryError, "2026-12-06T13:00:00Z")},
		{denies{verify.CauseRegistryError}, 30 * time.Minute, deferred(verify.CauseRegistryError, "2026-12-06T13:00:00Z") + "; unanswered for 30m0s"},
		{denies{verify.CausePending}, 29*time.Minute + 59*time.Second, deferred(verify.CausePending, "2026-12-06T13:00:00Z") + "; unanswered for 59m59s"},
		{allows{}, time.Second, ""}, // 13:00:00: trusted; the hour starts over
		{denies{verify.CauseRegistryError}, time.Minute, deferred(verify.CauseRegistryError, "2026-12-06T14:01:00Z")},
		{denies{verify.CauseRegistryError}, 59 * time.Minute, deferred(verify.CauseRegistryError, "2026-12-06T14:01:00Z") + "; unanswered for 59m0s"},
		{denies{verify.CauseUntrusted}, 30 * time.Second, "stop pending: confirming untrusted at 2026-12-06T14:01:30Z"}, // a final answer: over again
		{denies{verify.CauseRegistryError}, 10 * time.Second, deferred(verify.CauseRegistryError, "2026-12-06T15:00:40Z")},
		{denies{verify.CauseRegistryError}, 59*time.Minute + 59*time.Second, deferred(verify.CauseRegistryError, "2026-12-06T15:00:40Z") + "; unanswered for 59m59s"},
	} {
		if rc := judge(step.dec, step.after); rc.Action != step.want {
			t.Fatalf("at %s: %q, want %q", now.Format(time.TimeOnly), rc.Action, step.want)
		}
		if stopped(d, tasks) {
			t.Fatalf("stopped at %s, within the hour", now.Format(time.TimeOnly))
		}
	}
	if wait, ok := d.running.againDue(); !ok || wait != time.Second {
		t.Fatalf("the loop judges again in %s (%v), want 1s: when the hour ends", wait, ok)
	}
	if got := testutil.ToFloat64(d.running.unanswers.WithLabelValues("release")); got != 3599 {
		t.Fatalf("signgate_running_unanswered_seconds{policy=release} = %v, want 3599", got)
	}
	if !strings.Contains(log.String(), `action="`+deferred(verify.CauseRegistryError, "2026-12-06T15:00:40Z")+`" trigger=test unanswered_since=2026-12-06T14:00:40Z`) {
		t.Fatalf("the log does not say when it will be stopped:\n%s", log)
	}
	rc := judge(denies{verify.CauseRegistryError}, time.Second)
	if rc.Action != "stop: stopping; unanswered for 1h0m0s" || rc.Cause != "registry_error" || rc.Verdict != localapi.RunningUntrusted ||
		!strings.HasPrefix(rc.Reason, "the registry left the verdict unanswered since 2026-12-06T14:00:40Z, stop_unanswered_after = 1h0m0s: denied: registry_error") {
		t.Fatalf("an hour unanswered: %+v", rc)
	}
	if got := <-tasks.stopped; got != "c1 "+stopGrace.String() {
		t.Fatalf("stopped %s", got)
	}
	if !strings.Contains(log.String(), `action="stop: unanswered for 1h0m0s (stop_unanswered_after)"`) {
		t.Fatalf("the log does not say why it stopped:\n%s", log)
	}
}

// Without stop_unanswered_after a registry that never answers stops
// nothing, however long; ps and the metric still say how long.
func TestARegistryThatNeverAnswersStopsNothingUnlessLimited(t *testing.T) {
	d, tasks, _, now := unansweredNode(t, "")
	d.plugin.Decider = denies{verify.CauseRegistryError}
	for range 5 {
		if a := d.JudgeRunning(t.Context(), "test").Containers[0].Action; !strings.HasPrefix(a, "stop deferred: the verdict is not final (registry_error)") {
			t.Fatalf("at %s: %q", now.Format(time.DateTime), a)
		}
		*now = now.Add(24 * time.Hour)
	}
	if stopped(d, tasks) {
		t.Fatal("stopped without stop_unanswered_after")
	}
	if a := d.ReportRunning(t.Context()).Containers[0].Action; a != "stop deferred: the verdict is not final (registry_error); unanswered for 120h0m0s" {
		t.Fatalf("ps: %q", a)
	}
	if got := testutil.ToFloat64(d.running.unanswers.WithLabelValues("release")); got != 96*3600 {
		t.Fatalf("signgate_running_unanswered_seconds{policy=release} = %v, want %d", got, 96*3600)
	}
}

// answers is a registry that answers over HTTP and refuses: a 429
// (rate_limited) or a 401 to the credentials (registry_error), with
// Answered set as the engine sets it (registry.Answered).
type answers struct{ cause verify.Cause }

func (a answers) Decide(ctx context.Context, req verify.Request) *verify.Verdict {
	v := denies(a).Decide(ctx, req)
	v.Answered = true
	return v
}

// A registry that answers, if only with a 429 (a node-wide rate limit an
// unprivileged pod can exhaust) or a 401 (a deleted pull secret), is not
// silent: under stop_unanswered_after = "1h" a container it answers so
// for a day is reported and asked again, never stopped, and each answer
// starts the hour over; silence after it (a refused connection, a
// timeout) stops it an hour later. The clock is the test's.
func TestARegistryThatAnswersIsNotStoppedForIt(t *testing.T) {
	d, tasks, _, now := unansweredNode(t, "1h")
	judge := judgeAfter(t, d, now)
	for _, c := range []verify.Cause{verify.CauseRateLimited, verify.CauseRegistryError} {
		for range 25 {
			if rc := judge(answers{c}, time.Hour); rc.Action != "stop deferred: the verdict is not final ("+string(c)+")" {
				t.Fatalf("%s at %s: %q", c, now.Format(time.DateTime), rc.Action)
			}
			if stopped(d, tasks) {
				t.Fatalf("stopped at %s: the registry answered %s", now.Format(time.DateTime), c)
			}
		}
		if _, ok := d.running.againDue(); !ok {
			t.Fatalf("%s: not asked again", c)
		}
	}
	// 50 minutes of silence, an answer, 50 more: under the hour since it.
	judge(denies{verify.CauseRegistryError}, time.Minute)
	judge(answers{verify.CauseRateLimited}, 50*time.Minute)
	if rc := judge(denies{verify.CauseRegistryError}, 10*time.Minute); !strings.Contains(rc.Action, "unless the registry answers") {
		t.Fatalf("silent again: %q", rc.Action)
	}
	judge(denies{verify.CausePending}, 50*time.Minute)
	if stopped(d, tasks) {
		t.Fatalf("stopped at %s: the hour started over at the 429", now.Format(time.DateTime))
	}
	if rc := judge(denies{verify.CauseRegistryError}, 10*time.Minute); rc.Action != "stop: stopping; unanswered for 1h0m0s" {
		t.Fatalf("an hour silent after the 429: %q", rc.Action)
	}
	if got := <-tasks.stopped; got != "c1 "+stopGrace.String() {
		t.Fatalf("stopped %s", got)
	}
}
