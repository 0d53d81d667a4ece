package crio

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/testenv"
)

// chartConfig is the config.toml the chart (charts/signgate) renders into
// its ConfigMap with sets, on this node's paths: CRI-O's storage and
// socket as values say, and the paths the pod mounts from the host at the
// same place (the API socket's /run/signgate, /var/run/nri) as this
// node has them.
func chartConfig(t *testing.T, e *harness.Env, sets ...string) string {
	t.Helper()
	helm := os.Getenv("SIGNGATE_HELM")
	if helm == "" {
		testenv.Skip(t, "SIGNGATE_HELM is not set: the chart is not rendered (make crio-test sets it)")
	}
	root, run := e.CRIOStorage()
	args := []string{"template", "signgate", "../../charts/signgate", "--namespace", "signgate-system", "--kube-version", "1.34.2",
		"--show-only", "templates/configmap.yaml",
		"--set", "crioStorage.root=" + root, "--set", "crioStorage.runRoot=" + run,
		"--set", "crioSocket.path=" + e.ContainerdSock, "--set", "config.daemon.metricsAddress=" + e.MetricsAddr}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(helm, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	_, block, ok := strings.Cut(string(out), "  config.toml: |\n")
	if !ok {
		t.Fatalf("no config.toml in the ConfigMap:\n%s", out)
	}
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l != "" && !strings.HasPrefix(l, "    ") {
			break
		}
		lines = append(lines, strings.TrimPrefix(l, "    "))
	}
	cfg := strings.Join(lines, "\n")
	for pod, node := range map[string]string{`"/run/signgate/signgate.sock"`: e.APISocket(), `"/var/run/nri/nri.sock"`: e.NRISock} {
		if !strings.Contains(cfg, pod) {
			t.Fatalf("the chart's config has no %s:\n%s", pod, cfg)
		}
		cfg = strings.ReplaceAll(cfg, pod, `"`+node+`"`)
	}
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCRIODoctorInTheChartsPod: signgate doctor run as in the DaemonSet's
// pod (no --crio-socket; `kubectl exec POD -- signgate doctor`), with the
// config the chart renders for runtime crio and for auto, against the
// real CRI-O whose validator requires signgate: the chart names CRI-O's
// socket (crioSocket, here at a path other than CRI-O's default) as
// crio_socket, doctor reads CRI-O's running config there, says fails
// closed holds and that a stop would work, and exits 0. The CRI-O flags
// stand for the pod's /etc/crio mount.
func TestCRIODoctorInTheChartsPod(t *testing.T) {
	e := need(t)
	for _, rt := range []string{"crio", "auto"} {
		cfg := chartConfig(t, e, "runtime="+rt)
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--config", cfg,
			"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d")).CombinedOutput()
		for _, want := range []string{"OK   fails closed", "OK   doctor reads the NRI config CRI-O runs",
			"(in CRI-O's running config (GET /config on " + e.ContainerdSock + "))",
			"StopContainer over CRI-O's CRI at " + e.ContainerdSock + " (cri-o " + e.CRIOVersion() + " answered)"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("runtime %s: doctor lacks %q:\n%s", rt, want, out)
			}
		}
		if rt == "auto" && !strings.Contains(string(out), `[daemon.runtime] name = "auto": cri-o `+e.CRIOVersion()) {
			t.Errorf("runtime auto: doctor does not name the runtime detected:\n%s", out)
		}
		if err != nil {
			t.Errorf("runtime %s: doctor in the chart's pod on a CRI-O that fails closed: %v (want exit 0)\n%s", rt, err, out)
		}
	}
}
