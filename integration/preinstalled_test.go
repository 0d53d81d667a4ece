package integration

import (
	"os"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// containerd can start signgate itself, from its NRI plugin directory.
func TestPreinstalledPlugin(t *testing.T) {
	need(t)
	e, err := harness.Start(harness.Options{Bin: os.Getenv("SIGNGATE_TEST_BIN"), DropIn: "../packaging/containerd/signgate.toml", PreInstalled: true})
	if e != nil {
		defer e.Stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	pod, cfg, err := e.Pod("default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Image("pre/signed", "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Image("pre/unsigned"); err != nil {
		t.Fatal(err)
	}
	if err := harness.WaitFor(15*time.Second, func() error {
		_, err := e.Create(pod, cfg, e.Registry+"/pre/signed:v1")
		return err
	}); err != nil {
		t.Fatalf("signed image under the pre-installed plugin: %v", err)
	}
	_, err = e.Create(pod, cfg, e.Registry+"/pre/unsigned:v1")
	mustDeny(t, err, "signgate denied image", "no cosign signatures found")
}
