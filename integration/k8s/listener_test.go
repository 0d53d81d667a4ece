package k8s_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// Issue 29 item 2 on a real node: another process holds signgate's metrics
// port when its pod starts (OpenTelemetry's exporter on 9464, say; here a
// port the test holds and answers on, named in the ConfigMap). The pod
// stays Ready without restarts, since its probes ask the API socket; the
// node keeps gating; and once the port frees, the metrics are served.
func TestMetricsPortHeldWhenSigngateStarts(t *testing.T) {
	need(t)
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	other := &http.Server{Handler: http.NotFoundHandler()}
	go func() { _ = other.Serve(held) }()
	defer other.Close()

	cfg := kubectl(t, "-n", "signgate-system", "get", "configmap", "signgate-config", "-o", `jsonpath={.data.config\.toml}`)
	const shipped = `metrics_address = "127.0.0.1:9464"`
	if !strings.Contains(cfg, shipped) {
		t.Fatalf("the ConfigMap does not set %s:\n%s", shipped, cfg)
	}
	setSigngateConfig(t, strings.Replace(cfg, shipped, fmt.Sprintf("metrics_address = %q", addr), 1))
	defer func() {
		setSigngateConfig(t, cfg)
		restartSigngatePod(t)
	}()
	start := time.Now()
	restartSigngatePod(t)
	if err := harness.WaitFor(time.Minute, func() error {
		if logs, _ := C.Kubectl("-n", "signgate-system", "logs", "ds/signgate"); !strings.Contains(logs, "metrics listener cannot bind") || !strings.Contains(logs, addr) {
			return fmt.Errorf("signgate's log does not say it cannot bind %s:\n%s", addr, logs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	signed, unsigned := image(t, "heldport/signed", "k1"), image(t, "heldport/unsigned")
	apply(t, deployment("heldport-signed", signed.Context().Tag("v1").String()))
	apply(t, deployment("heldport-unsigned", unsigned.Context().Tag("v1").String()))
	defer kubectl(t, "delete", "deployment", "heldport-signed", "heldport-unsigned", "--wait=false")
	if out, err := C.Kubectl("rollout", "status", "deployment/heldport-signed", "--timeout=120s"); err != nil {
		t.Fatalf("the signed Deployment with the metrics port held: %v: %s", err, out)
	}
	if msg, _ := waiting(t, "default", "heldport-unsigned", "CreateContainerError"); !strings.Contains(msg, "signgate denied image") {
		t.Fatalf("the unsigned Deployment was not refused by signgate: %s", msg)
	}

	// Past the liveness probe's window (3 failures, 10 s apart): still
	// the same container, Ready.
	if wait := 35*time.Second - time.Since(start); wait > 0 {
		time.Sleep(wait)
	}
	if out := kubectl(t, "-n", "signgate-system", "get", "pods", "-l", "app.kubernetes.io/name=signgate", "-o",
		`jsonpath={.items[0].status.containerStatuses[0].restartCount} {.items[0].status.conditions[?(@.type=="Ready")].status}`); out != "0 True" {
		t.Fatalf("signgate's pod with the metrics port held: restarts and Ready %q, want \"0 True\"", out)
	}

	other.Close()
	if err := harness.WaitFor(90*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `signgate_listener_up{listener="metrics"} 1`) {
			return fmt.Errorf("/metrics: %s\n%s", resp.Status, b)
		}
		return nil
	}); err != nil {
		t.Fatalf("signgate does not serve metrics on %s once it is free: %v", addr, err)
	}
}

// setSigngateConfig replaces the config in signgate's ConfigMap.
func setSigngateConfig(t *testing.T, c string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	apply(t, kubectl(t, "-n", "signgate-system", "create", "configmap", "signgate-config", "--from-file=config.toml="+p, "--dry-run=client", "-o", "yaml"))
}

// restartSigngatePod deletes signgate's pod and waits for the DaemonSet's
// next one to be Ready ([daemon] settings change only on restart).
func restartSigngatePod(t *testing.T) {
	t.Helper()
	kubectl(t, "-n", "signgate-system", "delete", "pod", "-l", "app.kubernetes.io/name=signgate", "--wait=true", "--timeout=60s")
	if err := C.WaitReady("signgate-system", "app.kubernetes.io/name=signgate", 3*time.Minute); err != nil {
		t.Fatalf("signgate's pod after a restart: %v", err)
	}
}
