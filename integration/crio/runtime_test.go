package crio

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRIORuntimeIsDetected: under [daemon.runtime] name = "auto" signgate
// reads CRI-O's storage once NRI's Configure names cri-o: a signed image's
// container is created, an unsigned one refused, and doctor checks CRI-O,
// naming the version detected. Named "containerd" on this node, signgate
// refuses the registration naming both runtimes, and CRI-O (its validator
// requiring signgate) creates nothing meanwhile.
func TestCRIORuntimeIsDetected(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "auto/signed", "k1")
	unsigned := image(t, e, "auto/unsigned")
	good := e.SigngateConfig()
	if !strings.Contains(good, `name = "crio"`) {
		t.Fatalf("the suite's config names no runtime:\n%s", good)
	}
	t.Cleanup(func() {
		if err := e.RestartSigngate(good); err != nil {
			t.Errorf("restoring the config: %v", err)
		}
	})
	t.Run("auto", func(t *testing.T) {
		if err := e.RestartSigngate(strings.Replace(good, `name = "crio"`, `name = "auto"`, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Create(podID, podCfg, e.Registry+"/auto/signed:v1"); err != nil {
			t.Fatalf("signed image refused under auto: %v", err)
		}
		_, err := e.Create(podID, podCfg, e.Registry+"/auto/unsigned:v1")
		mustDeny(t, err, "signgate denied image", unsigned, "no cosign signatures found")
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--config", filepath.Join(e.Dir, "signgate.toml"),
			"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d"), "--crio-socket", e.ContainerdSock).CombinedOutput()
		if err != nil {
			t.Fatalf("doctor under auto: %v\n%s", err, out)
		}
		for _, want := range []string{`[daemon.runtime] name = "auto": cri-o ` + e.CRIOVersion(), "CRI-O, storage at ", "OK   fails closed"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("doctor under auto lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("containerd named", func(t *testing.T) {
		before := strings.Count(e.SigngateLog.String(), "--- signgate start")
		// signgate never registers: the harness's wait for it fails.
		_ = e.RestartSigngate(strings.Replace(good, `name = "crio"`, `name = "containerd"`, 1))
		if n := strings.Count(e.SigngateLog.String(), "--- signgate start"); n != before+1 {
			t.Fatalf("signgate was not restarted (%d starts, %d before)", n, before)
		}
		log := e.SigngateLog.String()
		log = log[strings.LastIndex(log, "--- signgate start"):]
		want := `NRI connected signgate to cri-o ` + e.CRIOVersion() + `, but [daemon.runtime] name = \"containerd\" (containerd)`
		if !strings.Contains(log, want) {
			t.Fatalf("signgate's log does not name both runtimes (%s):\n%s", want, log)
		}
		if strings.Contains(log, "connected to NRI") {
			t.Fatalf("signgate registered with the wrong runtime named:\n%s", log)
		}
		// The first creation after the killed signgate may still find it
		// listed; either way NRI refuses it.
		_, err := e.Create(podID, podCfg, e.Registry+"/auto/signed:v1")
		if msg := strings.ReplaceAll(fmt.Sprint(err), `\`, ""); err == nil || !strings.Contains(msg, `required plugin "signgate" not present`) && !strings.Contains(msg, "validator plugin 10-signgate failed") {
			t.Fatalf("a creation with signgate unregistered: %v", err)
		}
	})
}
