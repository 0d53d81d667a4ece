package crio

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// TestCRIODoctorSeesCRIOFlags: a second CRI-O, with the suite's config
// file and drop-ins (validator on, requiring signgate) but started with
// --nri-enable-default-validator=false, runs without the validator: its
// files say the gate holds, its command line says it does not. doctor,
// asking it on its socket, says the validator is off and the node does not
// fail closed (exit 1).
func TestCRIODoctorSeesCRIOFlags(t *testing.T) {
	e := need(t)
	// Not t.TempDir: CRI-O's storage leaves its overlay directory
	// mounted, which the cleanup below undoes first.
	d, err := os.MkdirTemp("", "crio-flags-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Unmount(filepath.Join(d, "root", "overlay"), syscall.MNT_DETACH)
		_ = os.RemoveAll(d)
	}()
	sock := filepath.Join(d, "crio.sock")
	cmd := exec.Command(filepath.Join(e.Bin, "crio"),
		"--config", filepath.Join(e.Dir, "crio", "crio.conf"), "--config-dir", filepath.Join(e.Dir, "crio", "conf.d"),
		"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"), "--listen", sock,
		"--nri-listen", filepath.Join(d, "nri.sock"), "--nri-plugin-dir", filepath.Join(d, "nri-plugins"), "--log-dir", filepath.Join(d, "logs"),
		"--version-file", filepath.Join(d, "version"), "--version-file-persist", filepath.Join(d, "version-persist"),
		"--clean-shutdown-file", filepath.Join(d, "clean.shutdown"), "--namespaces-dir", filepath.Join(d, "ns"),
		"--container-exits-dir", filepath.Join(d, "exits"), "--container-attach-socket-dir", filepath.Join(d, "attach"),
		"--nri-enable-default-validator=false")
	logf, err := os.Create(filepath.Join(d, "crio.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	doctor := func() (string, error) {
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), "doctor", "--config", filepath.Join(e.Dir, "signgate.toml"),
			"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d"),
			"--crio-socket", sock).CombinedOutput()
		return string(out), err
	}
	var out string
	if err := harness.WaitFor(60*time.Second, func() error {
		out, err = doctor()
		if strings.Contains(out, "could not be read") {
			return os.ErrNotExist
		}
		return nil
	}); err != nil {
		b, _ := os.ReadFile(filepath.Join(d, "crio.log"))
		t.Fatalf("the second CRI-O did not answer GET /config:\n%s\nCRI-O's log:\n%s", out, b)
	}
	for _, want := range []string{"NO   CRI-O's NRI default validator is on: [crio.nri.default_validator] nri_enable_default_validator = false (in CRI-O's running config",
		"NO   fails closed", "NO   doctor reads the NRI config CRI-O runs, and CRI-O's files give it"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if err == nil {
		t.Errorf("doctor exit 0 on a CRI-O running without its validator:\n%s", out)
	}
}
