package crio

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRIODoctorReadsWhatCRIORuns: doctor asks the running CRI-O for its
// config (GET /config on crio.sock). A drop-in turning the validator off,
// written after CRI-O started, is not in force (NRI is read at start
// only) but would be at the next restart: doctor says the files and what
// CRI-O runs differ (exit 1). Without CRI-O's socket, doctor cannot know
// what runs and does not say the node fails closed (exit 1).
func TestCRIODoctorReadsWhatCRIORuns(t *testing.T) {
	e := need(t)
	doctor := func(extra ...string) (string, error) {
		args := append([]string{"doctor", "--config", filepath.Join(e.Dir, "signgate.toml"),
			"--crio-config", filepath.Join(e.Dir, "crio", "crio.conf"), "--crio-config-dir", filepath.Join(e.Dir, "crio", "conf.d")}, extra...)
		out, err := exec.Command(filepath.Join(e.Bin, "signgate"), args...).CombinedOutput()
		return string(out), err
	}
	out, err := doctor("--crio-socket", filepath.Join(e.Dir, "no-crio.sock"))
	if err == nil || !strings.Contains(out, "NO   fails closed") || !strings.Contains(out, "unknown, so not holding") || !strings.Contains(out, "no-crio.sock") {
		t.Errorf("doctor without CRI-O's socket (want exit 1, fails closed unknown): %v\n%s", err, out)
	}

	late := filepath.Join(e.Dir, "crio", "conf.d", "99-late.conf")
	if err := os.WriteFile(late, []byte("[crio.nri.default_validator]\nNRI_ENABLE_DEFAULT_VALIDATOR = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(late)
	out, err = doctor("--crio-socket", e.ContainerdSock)
	if err == nil || !strings.Contains(out, "NO   doctor reads the NRI config CRI-O runs") || !strings.Contains(out, "next restart") {
		t.Errorf("doctor with a drop-in written since CRI-O started (want exit 1): %v\n%s", err, out)
	}
	if !strings.Contains(out, "OK   fails closed") {
		t.Errorf("CRI-O still runs its validator, as its /config says:\n%s", out)
	}
}
