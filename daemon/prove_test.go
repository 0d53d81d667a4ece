package daemon

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/prove"
	"github.com/signgate/signgate/setup"
)

// The daemon's schedule: a probe once connected, then one per interval;
// only a proven one moves signgate_enforcement_proven_timestamp_seconds,
// and each outcome is logged at its level.
func TestProveLoop(t *testing.T) {
	outcomes := make(chan prove.Outcome, 1)
	at := time.Unix(1800000000, 0)
	old := runProbe
	t.Cleanup(func() { runProbe = old })
	runProbe = func(_ context.Context, o prove.Options) *prove.Result {
		if o.Image != "r.example/apps/signgate-prove" || o.Plugin != "signgate" {
			t.Errorf("probe options %+v", o)
		}
		at = at.Add(time.Hour)
		return &prove.Result{Outcome: <-outcomes, At: at, Image: o.Image + ":n", Proved: "what it proved"}
	}
	var log syncBuffer
	d := &Daemon{log: slog.New(slog.NewTextHandler(&log, nil))}
	d.cfg.Store(&setup.Config{Config: &config.Config{Daemon: config.Daemon{PluginName: "signgate", Prove: config.ProveKeys{Interval: "1h", Image: "r.example/apps/signgate-prove"}}}})
	d.connected.Store(true)
	waits := make(chan time.Duration)
	fire := make(chan time.Time)
	d.after = func(t time.Duration) <-chan time.Time { waits <- t; return fire }
	m := newProveMetrics(prometheus.NewRegistry(), time.Hour)
	s, err := prove.ParseSettings(d.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.proveLoop(ctx, s, m)

	step := func(o prove.Outcome) {
		t.Helper()
		outcomes <- o
		if w := <-waits; w != time.Hour {
			t.Fatalf("next probe in %s, want the interval", w)
		}
	}
	step(prove.Proven)
	first := float64(at.Unix())
	if got := testutil.ToFloat64(m.proven); got != first {
		t.Fatalf("proven timestamp %v, want %v", got, first)
	}
	fire <- time.Time{}
	step(prove.Created)
	if got := testutil.ToFloat64(m.proven); got != first {
		t.Fatalf("a created probe moved the proven timestamp to %v", got)
	}
	fire <- time.Time{}
	step(prove.NoSandbox)
	for o, n := range map[prove.Outcome]float64{prove.Proven: 1, prove.Created: 1, prove.NoSandbox: 1, prove.PluginAbsent: 0} {
		if got := testutil.ToFloat64(m.probes.WithLabelValues(string(o))); got != n {
			t.Errorf("probes{outcome=%s} = %v, want %v", o, got, n)
		}
	}
	if testutil.ToFloat64(m.interval) != 3600 {
		t.Error("interval gauge")
	}
	for _, want := range []string{"level=INFO msg=\"enforcement proven: what it proved\"", "level=ERROR msg=\"enforcement NOT proven: what it proved\" outcome=created",
		"level=WARN msg=\"enforcement probe: this node cannot create a pod sandbox"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}
