package daemon

import (
	"fmt"
	"time"

	"github.com/signgate/signgate/verify"
)

// A registry that never answers must not keep a revoked image running for
// good. A verdict the registry did not give stops nothing (a registry
// outage must not stop a node's workloads) and is asked again on the
// loop's clock (askAgain); under a policy's stop_unanswered_after, a
// container the registry has left unanswered that long is stopped as a
// confirmed final denial is: whoever blocks the node's path to the
// registry then buys that long, not forever. The count starts at the
// first unanswered judgement after the last answer (trusted, a final
// denial, or any HTTP answer the verdict is not final for: a 401, 429,
// 5xx), which starts it over; a doubt that is not the registry's
// (misconfigured, which image runs) neither starts nor ends it. It is
// kept in memory: a restarted signgate counts anew.

// silent says the registry gave no answer at all: unreachable, timed
// out, or a verification not finished. A registry that answers over HTTP
// (a 401 or 403 to the credentials, a 429, a 5xx of its own outage;
// verify.Verdict.Answered) is up: it starts the count over and stops
// nothing. Whoever blocks the path cannot make such an answer over TLS,
// while an unprivileged pod can exhaust a node's rate limit and a
// deleted pull secret gives a 401: counting those would stop other
// tenants' or legitimate workloads.
func silent(v *verify.Verdict) bool {
	return registryDoubt(v.Cause) && (v.Cause == verify.CausePending || !v.Answered)
}

// registryDoubt says the registry did not give the verdict: unreachable,
// a 401 to the credentials tried, a 429, or a verification not finished.
// Such a verdict is asked again (askAgain), answered or silent.
func registryDoubt(c verify.Cause) bool {
	switch c {
	case verify.CauseRegistryError, verify.CauseRateLimited, verify.CausePending:
		return true
	}
	return false
}

// unanswered records that the judgement of container id ended in v, not
// final, and says since when the registry has left it unanswered; zero
// when v is not the registry's silence. An answer (v.Answered) starts
// the count over. The caller holds r.mu.
func (r *runningState) unanswered(id string, v *verify.Verdict) time.Time {
	if !silent(v) {
		if v.Answered {
			r.answered(id)
		}
		return time.Time{}
	}
	since, ok := r.unansweredSince[id]
	if !ok {
		since = r.now()
		r.unansweredSince[id] = since
	}
	return since
}

// answered starts container id's count over: the registry answered.
// The caller holds r.mu.
func (r *runningState) answered(id string) {
	delete(r.unansweredSince, id)
}

// unansweredNote says, for ps and the loop's answer, how long the
// registry has left container id unanswered; "" when it has not (or for
// no time yet). The caller holds r.mu.
func (r *runningState) unansweredNote(id string) string {
	since, ok := r.unansweredSince[id]
	if !ok {
		return ""
	}
	if d := r.now().Sub(since).Truncate(time.Second); d > 0 {
		return "; unanswered for " + d.String()
	}
	return ""
}

// unansweredStop decides for a container whose verdict is not final, left
// unanswered since since (zero: not the registry's silence), under a stop
// policy with stop_unanswered_after = limit (zero: none). stop: the
// silence has lasted the limit, and reason says so (was is the verdict's
// own). Otherwise action says why the stop waits, and when the limit
// will stop it, at which time the loop is due to judge again. The caller
// holds r.mu.
func (r *runningState) unansweredStop(since time.Time, cause verify.Cause, limit time.Duration, was string) (stop bool, action, reason string) {
	deferred := "stop deferred: the verdict is not final (" + string(cause) + ")"
	if since.IsZero() || limit <= 0 {
		return false, deferred, ""
	}
	at := since.Add(limit)
	if r.now().Before(at) {
		r.againBy(at)
		return false, deferred + "; stopped at " + at.UTC().Format(time.RFC3339) + " unless the registry answers (stop_unanswered_after)", ""
	}
	reason = fmt.Sprintf("the registry left the verdict unanswered since %s, stop_unanswered_after = %s: %s", since.UTC().Format(time.RFC3339), limit, was)
	return true, "stop: unanswered for " + limit.String() + " (stop_unanswered_after)", reason
}
