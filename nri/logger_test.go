package nri

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// failingHandler fails the test on any record: the default logger must
// stay unused.
type failingHandler struct{ t *testing.T }

func (h failingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h failingHandler) Handle(_ context.Context, r slog.Record) error {
	h.t.Errorf("logged to slog.Default: %q", r.Message)
	return nil
}
func (h failingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h failingHandler) WithGroup(string) slog.Handler      { return h }

// TestLogsOnlyThroughItsLogger: the plugin logs through the logger it is
// given (the daemon's), never through slog's default, and not at all when
// given none. Not parallel: it replaces the process's default logger.
func TestLogsOnlyThroughItsLogger(t *testing.T) {
	old := slog.Default()
	slog.SetDefault(slog.New(failingHandler{t}))
	defer slog.SetDefault(old)

	var buf bytes.Buffer
	given := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, log := range []*slog.Logger{given, nil} {
		f := newFixture(t)
		f.p.Log = log
		f.p.Deadline = 3 * time.Second
		f.p.setRequestTimeout(2 * time.Second) // warns: the deadline is too close
		if _, err := f.p.Configure(context.Background(), "", "containerd", "v2.1.0"); err != nil {
			t.Fatal(err)
		}
		abandoned, cancel := context.WithCancel(context.Background())
		cancel()
		_, _, _ = f.p.CreateContainer(abandoned, f.pod, ctr("c-good", "reg.io/good:v1"))
		nriLogger{f.p.log()}.Warnf(context.Background(), "from the %s", "stub")
	}
	for _, want := range []string{"decision_deadline is too close", "NRI runtime", "has no validator", "request abandoned", "from the stub"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the given logger did not get %q:\n%s", want, buf.String())
		}
	}
}
