package nri

import (
	"context"

	"github.com/containerd/nri/pkg/api"
)

// A start refused on a doubt about which image runs (the runtime's record
// contradicts the image verified at creation: AsCreated), which CRI-O runs
// all the same, keeps that refusal as its verdict for as long as it runs
// (runningEntry.refused): Judge re-checks the image verified at creation,
// which would trust it, never the record that contradicted it.

// addRefused lists the container with the doubt its start was refused
// for (nil: none).
func (r *runningSet) addRefused(pod *api.PodSandbox, ctr *api.Container, refused *Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]runningEntry{}
	}
	e := kept(pod, ctr)
	e.refused = refused
	r.m[ctr.GetId()] = e
}

// keptRefusal is the doubt a start was refused for, under the policy of
// the image verified at creation (the doubt names none), so that the
// policy's on_untrusted_running applies to it.
func (p *Plugin) keptRefusal(ctx context.Context, id string, d Decision) Decision {
	v := *d.Verdict
	if reqs, ok := p.created.get(id); ok && v.Policy == "" {
		if own := p.Decider.Decide(ctx, reqs[0].Request); own != nil {
			v.Policy = own.Policy
		}
	}
	d.Verdict = &v
	return d
}
