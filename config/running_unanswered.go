package config

import (
	"fmt"
	"time"
)

// stop_unanswered_after: under on_untrusted_running = "stop", a running
// container whose re-judgement the registry has left unanswered
// (no HTTP answer at all: registry_error from a refused connection or a
// deadline, pending; a 429, 401 or 5xx is an answer) this long is
// stopped as a confirmed final denial is. Unset, such a verdict stops
// nothing, however long the registry stays silent, and whoever can block
// the node's path to the registry keeps a revoked image running.

// UnansweredLimitFor is the named policy's stop_unanswered_after; zero
// when it has none (a container the registry does not answer for is then
// never stopped for that).
func (r Running) UnansweredLimitFor(policy string) time.Duration {
	return r.unanswered[policy]
}

// unansweredAfter reads policy i's stop_unanswered_after: a positive
// duration, and only under on_untrusted_running = "stop" (with "report"
// it would stop nothing, and a reader would think it does).
func (r Running) unansweredAfter(p *Problems, i int, ps PolicySection) {
	if ps.StopUnansweredAfter == "" {
		return
	}
	key := fmt.Sprintf("policy[%d] %q.stop_unanswered_after", i, ps.Name)
	if a := RunningAction(ps.OnUntrustedRunning); a != RunningStop {
		if a == "" {
			a = RunningReport
		}
		p.Errorf("%s = %q: only with on_untrusted_running = %q (the policy's is %q): it says when to stop a container the registry does not answer for", key, ps.StopUnansweredAfter, RunningStop, a)
		return
	}
	if d := p.Duration(key, ps.StopUnansweredAfter, 0); d > 0 {
		r.unanswered[ps.Name] = d
	}
}
