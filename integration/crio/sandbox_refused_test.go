package crio

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// conmons counts the conmon processes of this suite's CRI-O (their
// command lines name its run root, under the suite's directory): one per
// infra or other container it runs.
func conmons(t *testing.T, e *harness.Env) int {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone
		}
		args := strings.Split(string(b), "\x00")
		if filepath.Base(args[0]) == "conmon" && strings.Contains(string(b), e.Dir) {
			n++
		}
	}
	return n
}

// TestCRIORefusedSandboxDoesNotRun: on real CRI-O, a pod sandbox whose
// pause image signgate refuses at RunPodSandbox does not run: CRI-O undoes
// the sandbox it made when NRI refuses it, so no pod is listed and no
// conmon is left. Under name = "auto" with crio_socket, signgate also
// stops the refused sandbox through CRI-O's real CRI (what containerd
// before 2.2 needs), where CRI-O does not list it: not an error, and
// nothing is logged as still running. The pods have a PID namespace per
// container, so no infra process: CRI-O stops one in its cleanup with
// SIGTERM and, as the suite's pause image (busybox sleep) ignores it,
// kills it only 60s later (the pause binary exits at once), which this
// test would wait out twice.
func TestCRIORefusedSandboxDoesNotRun(t *testing.T) {
	e := need(t)
	good := keepConfig(t, e)
	// The pause image is unsigned: a sandbox policy requiring k2 refuses it.
	refusing := strings.Replace(good, fmt.Sprintf("[[policy]]\nname = \"sandbox\"\nscopes = [\"%s/pause\"]\nmode = \"allow\"\n", e.Registry),
		fmt.Sprintf("[[policy]]\nname = \"sandbox\"\nscopes = [\"%s/pause\"]\n  [policy.cosign]\n  keys = [\"k2\"]\n", e.Registry), 1)
	if refusing == good {
		t.Fatalf("the suite's config has no sandbox policy to change:\n%s", good)
	}
	for _, rt := range []string{"crio", "auto"} {
		cfg := withCRIOSocket(e, refusing, rt)
		if err := e.RestartSigngate(cfg); err != nil {
			t.Fatalf("%s: signgate refusing the pause image: %v\n%s", rt, err, e.SigngateLog.String())
		}
		before := conmons(t, e)
		mark := len(e.SigngateLog.String())
		name := "refused-" + rt
		p := filepath.Join(e.Dir, name+"-pod.json")
		if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"default","uid":%q},"log_directory":%q,"linux":{"security_context":{"namespace_options":{"network":2,"pid":1}}}}`,
			name, name, filepath.Join(e.Dir, "logs", name))), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := e.Crictl("runp", p)
		if err == nil {
			t.Fatalf("%s: a sandbox of an unsigned pause image ran: %s", rt, out)
		}
		if msg := strings.ReplaceAll(out, `\`, ""); !strings.Contains(msg, "signgate denied") || !strings.Contains(msg, `policy "sandbox"`) {
			t.Errorf("%s: runp refused, but not by signgate's sandbox policy: %s", rt, out)
		}
		if pods, err := e.Crictl("pods", "--name", name, "-q"); err != nil || strings.TrimSpace(pods) != "" {
			t.Errorf("%s: CRI-O lists the refused sandbox: %q %v", rt, pods, err)
		}
		if err := harness.WaitFor(15*time.Second, func() error {
			if n := conmons(t, e); n > before {
				return fmt.Errorf("%d conmon processes, %d before the refused sandbox", n, before)
			}
			return nil
		}); err != nil {
			t.Errorf("%s: the refused sandbox's infra container runs: %v", rt, err)
		}
		if rt == "auto" {
			if err := harness.WaitFor(15*time.Second, func() error {
				if len(logLines(e, mark, "stopped the task of a refused pod sandbox")) == 0 {
					return fmt.Errorf("signgate did not say it stopped the refused sandbox")
				}
				return nil
			}); err != nil {
				t.Errorf("%s: %v:\n%s", rt, err, e.SigngateLog.String()[mark:])
			}
		}
		if l := logLines(e, mark, "could not stop the task of a refused pod sandbox"); len(l) > 0 {
			t.Errorf("%s: signgate says a refused sandbox may still run: %s", rt, l)
		}
	}
}
