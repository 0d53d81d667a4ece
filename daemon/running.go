package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/crio"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
)

// Revocation that reaches running containers. NRI lets signgate refuse a
// container when it is created or started; a key revoked afterwards would
// otherwise leave every container already running on it untouched. So
// whenever what signgate trusts changes (a reload, a KMS sync that changed
// a key, a trust root gone stale, a key version or trust root reaching
// the end of its trust, a new NRI connection), it judges the image of
// every running container again, reports each one its policy no longer
// trusts (signgate_running_untrusted, a log line, `signgate ps`), and
// stops it where the policy says on_untrusted_running = "stop".
//
// NRI cannot stop a container on the plugin's initiative: containerd
// (NRI v0.12) honours evictions only in replies to CreateContainer and
// UpdateContainer, and relays a plugin's unsolicited UpdateContainers
// without its evictions. So a stop goes through containerd's task API, as
// CRI's StopContainer does it (imagestore/tasks.go). CRI-O 1.35 acts on an
// eviction only in answer to a CRI resource update, so there a stop is
// CRI's StopContainer on CRI-O's own socket (crio/cri.go).

// containerTasks is what runs and how to stop it: containerd's tasks,
// CRI-O's CRI, or a test's.
type containerTasks interface {
	RunningTasks(ctx context.Context) (map[string]bool, error)
	StopTask(ctx context.Context, id string, grace time.Duration) error
}

var (
	_ containerTasks = (*imagestore.Store)(nil)
	_ containerTasks = (*crio.CRI)(nil)
)

// stopGrace is how long a stopped container's processes have between
// SIGTERM and SIGKILL (CRI's StopContainer takes the pod's grace period;
// signgate has none to read; 10s, as docker stop: the container runs
// code no longer trusted).
const stopGrace = 10 * time.Second

type runningState struct {
	tasks containerTasks
	due   chan string // why to judge again; the loop takes one at a time
	after func(time.Duration) <-chan time.Time
	now   func() time.Time // the clock stops are confirmed by (running_confirm.go)

	mu        sync.Mutex        // one judgement at a time
	trustedBy map[string]string // container -> the policy that last trusted it
	reported  map[string]string // container -> what was last said of it untrusted
	acted     map[string]string // container -> what the loop last did about it, for ps
	sightings map[string]sighting
	// container -> the first judgement the registry left unanswered
	// since its last answer (running_unanswered.go)
	unansweredSince map[string]time.Time
	confirmAt       time.Time // when a stop waiting for confirmation is due; zero for none
	againAt         time.Time // when a verdict the registry could not give is asked again; zero for none

	stopMu   sync.Mutex
	stopping map[string]string // container -> how its stop is going

	untrusted *prometheus.GaugeVec
	unanswers *prometheus.GaugeVec
	stops     *prometheus.CounterVec
	judged    prometheus.Gauge
}

func newRunning(d *Daemon, tasks containerTasks) *runningState {
	r := &runningState{
		tasks: tasks, due: make(chan string, 1), after: time.After, now: time.Now,
		trustedBy: map[string]string{}, reported: map[string]string{}, stopping: map[string]string{},
		acted: map[string]string{}, sightings: map[string]sighting{}, unansweredSince: map[string]time.Time{},
		untrusted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_running_untrusted", Help: "Running containers whose image their policy no longer trusts, by policy (the one that governs the image now, else the one that last trusted it).",
		}, []string{"policy"}),
		unanswers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signgate_running_unanswered_seconds", Help: "The longest any running container has had its verdict left unanswered by the registry (registry_error, rate_limited, pending) since its last answer, as of the last judgement, by policy (0 for none); stop_unanswered_after stops it at that limit.",
		}, []string{"policy"}),
		stops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_running_stops_total", Help: "Running containers stopped because their policy no longer trusts their image (on_untrusted_running = \"stop\"), by policy and result (ok, error).",
		}, []string{"policy", "result"}),
		judged: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_running_judged_timestamp_seconds", Help: "When the running containers were last judged again.",
		}),
	}
	d.metrics.reg.MustRegister(r.untrusted, r.unanswers, r.stops, r.judged)
	return r
}

// judgeSoon asks the running-container loop to judge again, saying why.
func (d *Daemon) judgeSoon(why string) {
	select {
	case d.running.due <- why:
	default: // a judgement is due already; it sees this change too
	}
}

// runningLoop judges the running containers whenever asked, when the
// first key version or trust root trusted now stops being trusted (a grace
// period or a staleness limit ends with no sync or refresh to say so), and
// when a stop waiting for confirmation is due (running_confirm.go).
func (d *Daemon) runningLoop(ctx context.Context) {
	const expired = "a key version or trust root reached the end of its trust"
	for {
		var (
			timer   <-chan time.Time
			wait    time.Duration
			waitWhy string
		)
		if exp := d.Engine().Snapshot().Expires(); !exp.IsZero() {
			wait, waitWhy = max(time.Until(exp), 0)+time.Second, expired
		}
		if c, ok := d.running.confirmDue(); ok && (waitWhy == "" || c < wait) {
			wait, waitWhy = c, confirming
		}
		if a, ok := d.running.againDue(); ok && (waitWhy == "" || a < wait) {
			wait, waitWhy = a, unanswered
		}
		if waitWhy != "" {
			timer = d.running.after(wait)
		}
		var why string
		select {
		case <-ctx.Done():
			return
		case why = <-d.running.due:
		case <-timer:
			why = waitWhy
		}
		d.JudgeRunning(ctx, why)
	}
}

// JudgeRunning judges every running container's image again, reports the
// untrusted ones and acts on them as their policies say; why is logged.
// Only the loop calls it: `signgate ps` reports (ReportRunning).
func (d *Daemon) JudgeRunning(ctx context.Context, why string) localapi.RunningResponse {
	return d.judgeRunning(ctx, why, true)
}

func (d *Daemon) judgeRunning(ctx context.Context, why string, act bool) localapi.RunningResponse {
	r := d.running
	r.mu.Lock()
	defer r.mu.Unlock()
	resp := localapi.RunningResponse{Containers: []localapi.RunningContainer{}, JudgedAt: time.Now().UTC()}
	live, err := r.tasks.RunningTasks(ctx)
	if err != nil {
		// Every container NRI listed is judged: one that exited is
		// harmless to list, one running unjudged is not.
		resp.Error = err.Error() + "; listing every container NRI reported started"
		d.log.Warn("judging running containers: cannot tell which still run", "err", err)
	}
	if !d.connected.Load() {
		resp.Error = strings.TrimPrefix(resp.Error+"; not connected to NRI: the containers are those containerd reported when last connected", "; ")
	}
	cfg := d.config()
	counts := map[string]int{}
	for _, p := range cfg.Policies {
		counts[p.Name] = 0
	}
	seen, longest := map[string]bool{}, map[string]float64{}
	judged := d.judgeEach(ctx, live, cfg.Registry.VerifyTimeout+time.Second)
	if !act {
		for _, j := range judged {
			resp.Containers = append(resp.Containers, d.described(j, cfg.Config))
		}
		return resp
	}
	r.confirmAt, r.againAt = time.Time{}, time.Time{}
	for _, j := range judged {
		c := j.RunningContainer
		seen[c.ID] = true
		rc := describeJudged(j)
		if j.Decision.Verdict.Allowed {
			r.trustedBy[c.ID] = rc.Policy
			delete(r.reported, c.ID)
			delete(r.acted, c.ID)
			delete(r.sightings, c.ID)
			r.answered(c.ID)
		} else {
			policy := or(rc.Policy, r.trustedBy[c.ID])
			counts[or(policy, "(none)")]++
			rc.Action = d.actOnUntrusted(j, &rc, policy, cfg.Config, why)
			r.acted[c.ID] = rc.Action
			rc.Action += r.unansweredNote(c.ID)
			if since, ok := r.unansweredSince[c.ID]; ok {
				longest[or(policy, "(none)")] = max(longest[or(policy, "(none)")], r.now().Sub(since).Seconds())
			}
		}
		resp.Containers = append(resp.Containers, rc)
	}
	for _, m := range []map[string]string{r.trustedBy, r.reported, r.acted} {
		for id := range m {
			if !seen[id] {
				delete(m, id)
			}
		}
	}
	for id := range r.sightings {
		if !seen[id] {
			delete(r.sightings, id)
		}
	}
	for id := range r.unansweredSince {
		if !seen[id] {
			delete(r.unansweredSince, id)
		}
	}
	r.stopMu.Lock()
	for id, st := range r.stopping {
		if !seen[id] && st != "stop: stopping" {
			delete(r.stopping, id)
		}
	}
	r.stopMu.Unlock()
	r.untrusted.Reset()
	r.unanswers.Reset()
	for p, n := range counts {
		r.untrusted.WithLabelValues(p).Set(float64(n))
		r.unanswers.WithLabelValues(p).Set(longest[p])
	}
	r.judged.SetToCurrentTime()
	return resp
}

// judgeWorkers bounds the containers judged at once: most answers come
// from the verdict cache, but one behind a registry that hangs takes the
// verification timeout, and must not hold up the others.
const judgeWorkers = 8

// judgeEach judges every container NRI reported started that still runs
// (all of them when live is nil), each within timeout, in the order
// Running lists them.
func (d *Daemon) judgeEach(ctx context.Context, live map[string]bool, timeout time.Duration) []nri.Judged {
	var cs []nri.RunningContainer
	for _, c := range d.plugin.Running() {
		if c.StartedRefused && live[c.ID] {
			d.plugin.Listed(c.ID)
		}
		// One CRI-O started though its start was refused runs before its
		// CRI lists it running. Without a task list, one whose refused
		// start no runtime said it ran is left out: containerd honours the
		// refusal, and stopping it would fail on a task that never ran.
		if (live == nil && !c.RefusedOnly) || live[c.ID] || c.StartedRefused {
			cs = append(cs, c)
		}
	}
	judged, ok := make([]nri.Judged, len(cs)), make([]bool, len(cs))
	sem := make(chan struct{}, judgeWorkers)
	var wg sync.WaitGroup
	for i, c := range cs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			vctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			judged[i], ok[i] = d.plugin.Judge(vctx, c.ID)
		}()
	}
	wg.Wait()
	out := judged[:0]
	for i, j := range judged {
		if ok[i] { // removed meanwhile
			out = append(out, j)
		}
	}
	return out
}

func describeJudged(j nri.Judged) localapi.RunningContainer {
	v := j.Decision.Verdict
	rc := localapi.RunningContainer{ID: j.ID, Pod: j.Pod, Namespace: j.Namespace, Container: j.Name, Sandbox: j.Sandbox, Image: or(j.Ref, j.Decision.Ref),
		Digest: v.Digest, Policy: v.Policy, Cause: string(v.Cause), Reason: v.Reason, VerifiedBy: v.VerifiedBy()}
	switch {
	case !v.Allowed:
		rc.Verdict = localapi.RunningUntrusted
	case v.Verified:
		rc.Verdict = localapi.RunningTrusted
	default:
		rc.Verdict = localapi.RunningAllowed
	}
	return rc
}

// actOnUntrusted logs an untrusted container (once for each thing said of
// it) and, under on_untrusted_running = "stop", stops it. A verdict that
// is not final (verify.Cause.Final: the registry could not be read or
// rate-limited, the verification has not finished, a doubt about which
// image runs) is reported but stops nothing: a registry outage must not
// stop every container on the node. The next change judges it again, and
// one the registry did not answer is asked again on the loop's own clock
// (askAgain), so a revocation it hid is still caught; one the registry
// leaves unanswered for the policy's stop_unanswered_after stops
// (running_unanswered.go). A final one stops only once confirmed
// (running_confirm.go). A start signgate refused on a doubt about which
// image runs, which the runtime ran all the same (CRI-O), is final: it
// runs against signgate's word, and no registry answer changes that.
func (d *Daemon) actOnUntrusted(j nri.Judged, rc *localapi.RunningContainer, policy string, cfg *config.Config, why string) string {
	v := j.Decision.Verdict
	act := cfg.Running.For(policy)
	action := string(act)
	final := v.Cause.Final() || j.RefusedStart
	var since time.Time // when the registry's silence about it began
	if final {
		d.running.answered(j.ID)
		ok, due := d.running.confirmed(j.ID, v.Cause, max(cfg.Running.ConfirmFor(policy), cfg.Cache.DenyTTL), act == config.RunningStop)
		if !ok && act == config.RunningStop {
			action = "stop pending: confirming " + string(v.Cause) + " at " + due.UTC().Format(time.RFC3339)
			final = false
		}
	} else {
		since = d.running.unanswered(j.ID, v)
		d.running.askAgain(v.Cause, max(cfg.Running.ConfirmFor(policy), cfg.Cache.DenyTTL))
		if act == config.RunningStop {
			var reason string
			final, action, reason = d.running.unansweredStop(since, v.Cause, cfg.Running.UnansweredLimitFor(policy), v.Reason)
			rc.Reason = or(reason, rc.Reason)
		}
	}
	if said := action + "\x00" + string(v.Cause) + "\x00" + rc.Reason; d.running.reported[j.ID] != said {
		d.running.reported[j.ID] = said
		attrs := []any{"pod", j.Pod, "namespace", j.Namespace, "container", j.Name, "id", j.ID,
			"image", rc.Image, "digest", rc.Digest, "policy", policy, "cause", v.Cause, "reason", rc.Reason, "action", action, "trigger", why}
		if !since.IsZero() {
			attrs = append(attrs, "unanswered_since", since.UTC().Format(time.RFC3339))
		}
		d.log.Warn("running container no longer trusted", attrs...)
	}
	if act != config.RunningStop || !final {
		return action
	}
	return d.stop(j, *rc, policy)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
