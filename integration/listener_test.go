package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 29 item 2: another process holds metrics_address (OpenTelemetry's
// Prometheus exporter on 9464 is common on nodes, and answers HTTP there).
// signgate starts anyway and gates; its probes answer from the API socket
// and are not fooled by the other process; once the port frees, signgate
// binds it and serves its metrics.
func TestMetricsPortHeldByAnotherProcess(t *testing.T) {
	e := need(t)
	config := e.SigngateConfig()
	mark := e.logMark()
	e.KillSigngate()
	var held net.Listener
	if err := harness.WaitFor(10*time.Second, func() (err error) {
		held, err = net.Listen("tcp", e.MetricsAddr)
		return err
	}); err != nil {
		t.Fatalf("holding %s: %v", e.MetricsAddr, err)
	}
	other := &http.Server{Handler: http.NotFoundHandler()}
	go func() { _ = other.Serve(held) }()
	released := false
	release := func() {
		if !released {
			released = true
			_ = other.Close()
		}
	}
	t.Cleanup(release)

	if err := e.RestartSigngate(config); err != nil {
		t.Fatalf("signgate did not start and connect to NRI with %s held: %v\n%s", e.MetricsAddr, err, e.logSince(mark))
	}
	if len(e.waitLogLines(mark, "metrics listener cannot bind", e.MetricsAddr, "address already in use")) == 0 {
		t.Fatalf("signgate's log does not say the metrics listener cannot bind:\n%s", e.logSince(mark))
	}

	pod, cfg := e.pod("default")
	e.image("heldport/signed", "k1")
	e.image("heldport/unsigned")
	id, err := e.Create(pod, cfg, e.Registry+"/heldport/signed:v1")
	mustAllow(t, id, err)
	_, err = e.Create(pod, cfg, e.Registry+"/heldport/unsigned:v1")
	mustDeny(t, err, "no cosign signatures")

	healthcheck := func(args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), append([]string{"healthcheck"}, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, live := range [][]string{nil, {"--live"}} {
		args := append(live, "--socket", e.APISocket(), "--address", e.MetricsAddr)
		if out, err := healthcheck(args...); err != nil {
			t.Fatalf("healthcheck %v with the metrics port held: %v %s", args, err, out)
		}
	}
	// Through the port alone, the other process's answer is not taken for
	// signgate's.
	if out, err := healthcheck("--socket", "", "--address", e.MetricsAddr); err == nil || !strings.Contains(out, "not as signgate") {
		t.Fatalf("healthcheck took another process's answer on %s for signgate's: %v %s", e.MetricsAddr, err, out)
	}

	doctor := func() string {
		out, _ := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor",
			"--config", filepath.Join(e.Dir, "signgate.toml"), "--containerd-config", filepath.Join(e.Dir, "containerd.toml")).CombinedOutput()
		return string(out)
	}
	if out := doctor(); !strings.Contains(out, "--   signgate serves its metrics listener on "+e.MetricsAddr+": another process answers") ||
		!strings.Contains(out, "OK   signgate serves its api listener") {
		t.Errorf("doctor does not say another process holds the metrics port:\n%s", out)
	}

	release()
	var metrics string
	// The retry backs off from 1s, doubling: within a minute.
	if err := harness.WaitFor(70*time.Second, func() error {
		resp, err := http.Get("http://" + e.MetricsAddr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("/metrics: %s", resp.Status)
		}
		metrics = string(b)
		return nil
	}); err != nil {
		t.Fatalf("metrics not served on %s after it was released: %v\n%s", e.MetricsAddr, err, e.logSince(mark))
	}
	for _, want := range []string{`signgate_listener_up{listener="metrics"} 1`, `signgate_listener_bind_failures_total{listener="metrics"}`, `signgate_decisions_total{decision="deny"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if out, err := healthcheck("--socket", "", "--address", e.MetricsAddr); err != nil {
		t.Errorf("healthcheck through %s once bound: %v %s", e.MetricsAddr, err, out)
	}
	if out := doctor(); !strings.Contains(out, "OK   signgate serves its metrics listener on "+e.MetricsAddr) {
		t.Errorf("doctor does not say signgate serves metrics once bound:\n%s", out)
	}
}
