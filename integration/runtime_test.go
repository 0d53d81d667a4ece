package integration

import (
	"fmt"
	"strings"
	"testing"
)

// TestRuntimeIsDetected: under [daemon.runtime] name = "auto" signgate
// reads containerd's records once NRI's Configure names containerd: a
// signed image's container is created, an unsigned one refused. Named
// "crio" on this node, signgate refuses the registration naming both
// runtimes, and containerd (its validator requiring signgate, 2.2 and
// newer) creates nothing meanwhile.
func TestRuntimeIsDetected(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("auto/signed", "k1")
	unsigned := e.image("auto/unsigned")
	good := e.SigngateConfig()
	if strings.Contains(good, "[daemon.runtime]") {
		t.Fatalf("the suite's config names a runtime already:\n%s", good)
	}
	t.Cleanup(func() {
		if err := e.RestartSigngate(good); err != nil {
			t.Errorf("restoring the config: %v", err)
		}
	})
	t.Run("auto", func(t *testing.T) {
		if err := e.RestartSigngate(good + "\n[daemon.runtime]\nname = \"auto\"\n"); err != nil {
			t.Fatal(err)
		}
		id, err := e.Create(pod, cfg, e.Registry+"/auto/signed:v1")
		mustAllow(t, id, err)
		_, err = e.Create(pod, cfg, e.Registry+"/auto/unsigned:v1")
		mustDeny(t, err, "signgate denied image", unsigned.DigestStr(), "no cosign signatures found")
	})
	t.Run("crio named", func(t *testing.T) {
		// signgate never registers: the harness's wait for it fails.
		_ = e.RestartSigngate(good + "\n[daemon.runtime]\nname = \"crio\"\n")
		log := e.SigngateLog.String()
		log = log[strings.LastIndex(log, "--- signgate start"):]
		if want := `NRI connected signgate to containerd `; !strings.Contains(log, want) || !strings.Contains(log, `but [daemon.runtime] name = \"crio\" (cri-o)`) {
			t.Fatalf("signgate's log does not name both runtimes:\n%s", log)
		}
		if strings.Contains(log, "connected to NRI") {
			t.Fatalf("signgate registered with the wrong runtime named:\n%s", log)
		}
		if e.Containerd.HasValidator() {
			// The first creation after the killed signgate may still find
			// it listed; either way NRI refuses it.
			_, err := e.Create(pod, cfg, e.Registry+"/auto/signed:v1")
			if msg := strings.ReplaceAll(fmt.Sprint(err), `\`, ""); err == nil || !strings.Contains(msg, `required plugin "signgate" not present`) && !strings.Contains(msg, "validator plugin 10-signgate failed") {
				t.Fatalf("a creation with signgate unregistered: %v", err)
			}
		}
	})
}
