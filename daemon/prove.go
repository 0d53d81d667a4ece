package daemon

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signgate/signgate/prove"
)

// runProbe is the enforcement probe; tests replace it.
var runProbe = prove.Run

// proveMetrics are the probe's: exported only where the daemon probes, so
// a node without the probe has no stale timestamp to alert on.
type proveMetrics struct {
	proven   prometheus.Gauge
	interval prometheus.Gauge
	probes   *prometheus.CounterVec
}

func newProveMetrics(reg prometheus.Registerer, every time.Duration) *proveMetrics {
	m := &proveMetrics{
		proven: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_enforcement_proven_timestamp_seconds",
			Help: "When the enforcement probe last saw containerd refuse, on signgate's word, a container from an image nobody signed (0: not yet).",
		}),
		interval: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "signgate_enforcement_prove_interval_seconds", Help: "How often the enforcement probe runs (daemon.prove_interval).",
		}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signgate_enforcement_probes_total",
			Help: "Enforcement probes, by outcome: proven, created (nothing enforces), plugin_absent, refused_not_by_signgate, no_sandbox, failed.",
		}, []string{"outcome"}),
	}
	m.interval.Set(every.Seconds())
	reg.MustRegister(m.proven, m.interval, m.probes)
	return m
}

// proveLoop runs the enforcement probe once signgate is connected (or
// after one interval if it never is), then every interval, until ctx ends.
func (d *Daemon) proveLoop(ctx context.Context, s prove.Settings, m *proveMetrics) {
	for waited := time.Duration(0); !d.connected.Load() && waited < s.Interval; waited += time.Second {
		select {
		case <-ctx.Done():
			return
		case <-d.wait(time.Second):
		}
	}
	for {
		d.probeOnce(ctx, s, m)
		select {
		case <-ctx.Done():
			return
		case <-d.wait(s.Interval):
		}
	}
}

func (d *Daemon) probeOnce(ctx context.Context, s prove.Settings, m *proveMetrics) {
	o := prove.OptionsFor(d.config(), s)
	// The probe's decisions are recorded (synchronously) before it
	// returns: they are counted as source="probe" until then.
	pods := d.probePods()
	o.Announce = pods.add
	r := runProbe(ctx, o)
	pods.remove(prove.PodNamespace, r.Pod)
	if ctx.Err() != nil {
		return
	}
	m.probes.WithLabelValues(string(r.Outcome)).Inc()
	args := []any{"outcome", r.Outcome, "image", r.Image, "digest", r.Digest, "policy", r.Policy, "refusal", r.Refusal, "took_ms", r.TookMS}
	if len(r.Leftovers) > 0 {
		d.log.Error("enforcement probe: could not remove all it made", "leftovers", r.Leftovers)
	}
	switch r.Outcome {
	case prove.Proven:
		m.proven.Set(float64(r.At.Unix()))
		d.log.Info("enforcement proven: "+r.Proved, args...)
	case prove.NoSandbox:
		d.log.Warn("enforcement probe: this node cannot create a pod sandbox, so nothing was proved; set daemon.prove_interval = 0 here, or make the sandbox image present and trusted", args...)
	default:
		d.log.Error("enforcement NOT proven: "+r.Proved, args...)
	}
}

// startProve starts the probe's schedule when daemon.prove_interval is
// set (New checked the keys); like every [daemon] key, a reload does not
// change it.
func (d *Daemon) startProve(ctx context.Context) {
	s, err := prove.ParseSettings(d.config())
	if err != nil || s.Interval == 0 {
		return
	}
	d.log.Info("enforcement probe on", "every", s.Interval, "image", s.Image)
	go d.proveLoop(ctx, s, newProveMetrics(d.metrics.reg, s.Interval))
}
