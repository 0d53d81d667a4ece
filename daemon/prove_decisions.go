package daemon

import (
	"sync"

	"github.com/signgate/signgate/nri"
)

// The enforcement probe makes a deliberate denial each interval. Counted
// as the node's, it would feed SigngateDenialsRising (more than 3 denials
// in 10 minutes) on every node probing more often than every few minutes,
// and hide a real rise among them. So signgate_decisions_total labels
// each decision with its source: "probe" for the pods of the daemon's own
// probes in flight (named by the probe, new each run, announced before
// anything is made), "runtime" for every other. A pod merely claiming the
// probe's namespace or name pattern is "runtime": only the exact pod the
// daemon's probe announced counts as the probe's. (`signgate doctor
// --prove` runs in another process and is counted as runtime.)

// Sources of a decision, for signgate_decisions_total{source}.
const (
	SourceRuntime = "runtime"
	SourceProbe   = "probe"
)

// probePods are the probe pods in flight, by namespace and name.
type probePods struct {
	mu sync.Mutex
	m  map[string]bool
}

func (d *Daemon) probePods() *probePods {
	if d.metrics == nil {
		return nil
	}
	return d.metrics.probing
}

func (p *probePods) add(namespace, pod string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]bool{}
	}
	p.m[namespace+"/"+pod] = true
}

func (p *probePods) remove(namespace, pod string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, namespace+"/"+pod)
}

// source is where decision d came from.
func (p *probePods) source(d nri.Decision) string {
	if p == nil || d.Pod == "" {
		return SourceRuntime
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m[d.Namespace+"/"+d.Pod] {
		return SourceProbe
	}
	return SourceRuntime
}
