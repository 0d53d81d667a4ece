package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Another process holds metrics_address (OpenTelemetry's exporter on 9464,
// say): the daemon runs anyway, says so, and binds once the port frees.
func TestMetricsPortTakenDoesNotStopTheDaemon(t *testing.T) {
	dir := t.TempDir()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	var log syncBuffer
	d := listenerDaemon(t, dir, addr, &log)
	// The retry waits on this clock: each wait is announced, then released.
	waits := make(chan time.Duration, 1)
	fire := make(chan time.Time)
	d.after = func(t time.Duration) <-chan time.Time { waits <- t; return fire }

	// Run is stopped, and has returned, before the test's files go: a Run
	// still stopping would write to them, and notify the next test.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	ran := make(chan struct{})
	go func() { defer close(ran); errc <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	select {
	case err := <-errc:
		t.Fatalf("the daemon stopped because metrics_address %s was taken: %v", addr, err)
	case w := <-waits:
		if w != listenRetryFirst {
			t.Fatalf("first retry in %s, want %s", w, listenRetryFirst)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon neither stopped nor retried the metrics listener")
	}
	if !strings.Contains(log.String(), "metrics listener cannot bind") || !strings.Contains(log.String(), addr) {
		t.Fatalf("the log does not say the metrics listener cannot bind on %s:\n%s", addr, log.String())
	}
	// Still taken: the next wait is longer.
	fire <- time.Now()
	if w := <-waits; w != 2*listenRetryFirst {
		t.Fatalf("second retry in %s, want %s", w, 2*listenRetryFirst)
	}
	held.Close()
	fire <- time.Now()

	var got string
	for deadline := time.Now().Add(10 * time.Second); ; {
		if resp, err := http.Get("http://" + addr + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics not served on %s after the port was freed", addr)
		}
		time.Sleep(10 * time.Millisecond) // the bind runs on the retry goroutine
	}
	for _, want := range []string{`signgate_listener_up{listener="metrics"} 1`, `signgate_listener_bind_failures_total{listener="metrics"} 2`, `signgate_listener_up{listener="api"} 1`} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s:\n%s", want, got)
		}
	}
	select {
	case err := <-errc:
		t.Fatalf("the daemon stopped: %v", err)
	default:
	}
}

// listenerDaemon is a daemon on dir (no containerd behind it) serving
// metrics on metricsAddr ("" for none) and its API socket, logging to log.
func listenerDaemon(t *testing.T, dir, metricsAddr string, log io.Writer) *Daemon {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = %q\napi_socket = %q\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), metricsAddr, filepath.Join(dir, "api.sock"))
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, slog.New(slog.NewTextHandler(log, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// syncBuffer is a bytes.Buffer safe for the daemon's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
