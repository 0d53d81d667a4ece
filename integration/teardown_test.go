package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/signgate/signgate/integration/harness"
)

// No containerd shim outlives the environment it ran in. A sandbox that
// signgate refuses at RunPodSandbox is the case that leaked: containerd
// before 2.2 had started its task and, on NRI's error, neither shut it
// down nor recorded the pod, so `crictl rmp -fa` could not reach it, and
// its shim and pause process ran on after every `make matrix`.
func TestTeardownLeavesNoShim(t *testing.T) {
	need(t)
	e, err := harness.Start(harness.Options{Bin: os.Getenv("SIGNGATE_TEST_BIN"), Containerd: os.Getenv("SIGNGATE_CONTAINERD"),
		DropIn: "../packaging/containerd/signgate.toml",
		SigngateConfig: func(e *harness.Env) string {
			// "apps" (k1) governs the unsigned pause image: every sandbox is refused.
			return strings.Replace(harness.DefaultSigngateConfig(e), fmt.Sprintf("scopes = [\"%s/pause\"]\nmode = \"allow\"", e.Registry), "scopes = [\"nothing.example/pause\"]\nmode = \"allow\"", 1)
		}})
	if err != nil {
		if e != nil {
			e.Stop()
		}
		t.Fatal(err)
	}
	_, _, err = e.Pod("default")
	if err == nil || !strings.Contains(err.Error(), "pod sandbox: signgate denied image") {
		e.Stop()
		t.Fatalf("the sandbox was not refused: %v", err)
	}
	if err := e.StopStrict(); err != nil {
		t.Fatal(err)
	}
}
