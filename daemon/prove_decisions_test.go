package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/nri"
	"github.com/signgate/signgate/prove"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// The probe's deliberate denial is counted as source="probe": only the
// pod the daemon's probe announced, only while it runs. Another pod in the
// probe's namespace, or the probe's pod name seen after the probe, is the
// node's (source="runtime"), which SigngateDenialsRising counts.
func TestProbeDenialsAreCountedApart(t *testing.T) {
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.metrics = newMetrics(d)
	d.cfg.Store(&setup.Config{Config: &config.Config{Daemon: config.Daemon{PluginName: "signgate", Prove: config.ProveKeys{Interval: "1h", Image: "r.example/apps/signgate-prove"}}}})
	deny := func(pod string) nri.Decision {
		return nri.Decision{Pod: pod, Namespace: prove.PodNamespace, Container: "probe",
			Verdict: verify.Deny("r.example/apps/signgate-prove", "sha256:1", verify.CauseNoSignatures, "no signatures")}
	}
	old := runProbe
	t.Cleanup(func() { runProbe = old })
	runProbe = func(_ context.Context, o prove.Options) *prove.Result {
		if o.Announce == nil {
			t.Fatal("the probe is not asked to announce its pod")
		}
		o.Announce(prove.PodNamespace, "signgate-prove-n1")
		d.metrics.Record(deny("signgate-prove-n1")) // as CreateContainer records it
		d.metrics.Record(deny("signgate-prove-other"))
		return &prove.Result{Outcome: prove.Proven, Pod: "signgate-prove-n1", Namespace: prove.PodNamespace}
	}
	s, err := prove.ParseSettings(d.config())
	if err != nil {
		t.Fatal(err)
	}
	d.probeOnce(t.Context(), s, newProveMetrics(d.metrics.reg, s.Interval))
	d.metrics.Record(deny("signgate-prove-n1")) // after the probe: not its own
	policy := deny("").Verdict.Policy
	for source, want := range map[string]float64{SourceProbe: 1, SourceRuntime: 2} {
		if got := testutil.ToFloat64(d.metrics.decisions.WithLabelValues(DecisionDeny, policy, source)); got != want {
			t.Errorf("signgate_decisions_total{decision=deny,source=%s} = %v, want %v", source, got, want)
		}
	}
}
