package config

import (
	"fmt"
	"time"
)

// RunningAction is what signgate does with a running container whose
// image its policy no longer trusts ([[policy]] on_untrusted_running):
// a key revoked, a KMS version past its grace period, a trust root
// changed or stale, the policy tightened.
type RunningAction string

const (
	// RunningReport lists the container in `signgate ps`, the metric and
	// the log, and leaves it running (the default).
	RunningReport RunningAction = "report"
	// RunningStop also stops it; whatever restarts it creates a new
	// container, which signgate judges again.
	RunningStop RunningAction = "stop"
)

// Running holds each policy's on_untrusted_running, stop_confirm and
// stop_unanswered_after.
type Running struct {
	byPolicy   map[string]RunningAction
	confirm    map[string]time.Duration
	unanswered map[string]time.Duration // running_unanswered.go
}

// ConfirmFor is the named policy's stop_confirm: a running container is
// stopped only once the same final denial has been seen on two
// judgements at least this far apart (DefaultStopConfirm for a policy not
// defined or that says nothing).
func (r Running) ConfirmFor(policy string) time.Duration {
	if d, ok := r.confirm[policy]; ok {
		return d
	}
	return DefaultStopConfirm
}

// For is the action of the named policy: report for a policy that is not
// defined (no policy matches the image any more) or says nothing.
func (r Running) For(policy string) RunningAction {
	if a, ok := r.byPolicy[policy]; ok {
		return a
	}
	return RunningReport
}

// running reads every policy's on_untrusted_running and stop_confirm,
// naming the policy and the key when one is neither "report" nor "stop",
// or not a positive duration.
func running(p *Problems, policies []PolicySection) Running {
	r := Running{byPolicy: map[string]RunningAction{}, confirm: map[string]time.Duration{}, unanswered: map[string]time.Duration{}}
	for i, ps := range policies {
		r.confirm[ps.Name] = p.Duration(fmt.Sprintf("policy[%d] %q.stop_confirm", i, ps.Name), ps.StopConfirm, DefaultStopConfirm)
		switch a := RunningAction(ps.OnUntrustedRunning); a {
		case "":
		case RunningReport, RunningStop:
			r.byPolicy[ps.Name] = a
		default:
			p.Errorf("policy[%d] %q.on_untrusted_running = %q: want %q (list it, the default) or %q (stop it)", i, ps.Name, ps.OnUntrustedRunning, RunningReport, RunningStop)
		}
		r.unansweredAfter(p, i, ps)
	}
	return r
}
