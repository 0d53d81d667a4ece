package daemon

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/nri"
)

// `signgate ps` reports and never acts: anyone who can reach the API
// socket may ask, and asking must not stop a container. Stopping is the
// running loop's, on a trust change (running.go).

// ReportRunning judges every running container's image again and says
// what the loop last did about each untrusted one, acting on none: a
// `signgate ps` must not stop a container.
func (d *Daemon) ReportRunning(ctx context.Context) localapi.RunningResponse {
	return d.judgeRunning(ctx, "signgate ps", false)
}

// handleRunning answers `signgate ps`: every running container, judged
// again now (from the verdict cache, mostly), acting on none.
func (d *Daemon) handleRunning(w http.ResponseWriter, r *http.Request) {
	// Finished whether or not the client waits: a judgement cut short
	// would count verifications it abandoned as untrusted.
	resp := d.ReportRunning(context.WithoutCancel(r.Context()))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// described is a container as `signgate ps` shows it: judged now, with
// what the loop last did about it (ps acts on nothing). The caller holds
// r.mu.
func (d *Daemon) described(j nri.Judged, cfg *config.Config) localapi.RunningContainer {
	r := d.running
	rc := describeJudged(j)
	if j.Decision.Verdict.Allowed {
		return rc
	}
	r.stopMu.Lock()
	st, stopping := r.stopping[j.ID]
	r.stopMu.Unlock()
	switch act := cfg.Running.For(or(rc.Policy, r.trustedBy[j.ID])); {
	case stopping:
		rc.Action = st
	case r.acted[j.ID] != "":
		rc.Action = r.acted[j.ID]
	case act == config.RunningStop:
		rc.Action = "stop: not acted on yet (ps only reports; the next judgement acts)"
	default:
		rc.Action = string(act)
	}
	rc.Action += r.unansweredNote(j.ID)
	return rc
}
