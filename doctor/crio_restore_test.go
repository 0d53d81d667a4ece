package doctor

import (
	"strings"
	"testing"
)

// TestCRIORestoreIsOff: CRI-O restores checkpoints unless
// enable_criu_support is false (its default is on); doctor says so, naming
// the file, however the key is spelled.
func TestCRIORestoreIsOff(t *testing.T) {
	const g = "CRI-O restores no checkpoint"
	files := map[string]string{"crio.conf.d/10-signgate.conf": dropIn}
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); f.Holds || f.Optional || !strings.Contains(f.Detail, "CRI-O's default") {
		t.Errorf("CRI-O's default: %+v", f)
	}
	files["crio.conf.d/20-criu.conf"] = "[CRIO.RUNTIME]\nENABLE_CRIU_SUPPORT = false\n"
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); !f.Holds || !strings.Contains(f.Detail, "20-criu.conf") {
		t.Errorf("turned off: %+v", f)
	}
	files["crio.conf.d/30-on.conf"] = "[crio.runtime]\nenable_criu_support = true\n"
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); f.Holds || !strings.Contains(f.Detail, "30-on.conf") {
		t.Errorf("turned on again: %+v", f)
	}
}

// TestCRIORestoreSaysWhatSigngateDoes: while CRI-O restores, doctor says
// whether signgate refuses creations meanwhile (it asks CRI-O on
// crio_socket), cannot (no crio_socket: it admits them) or was told not
// to (crio_checkpoint_restore_unsafe).
func TestCRIORestoreSaysWhatSigngateDoes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"crio.conf.d/30-on.conf": "[crio.runtime]\nenable_criu_support = true\n"})
	c, err := ReadCRIO(dir+"/crio.conf", dir+"/crio.conf.d")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    Node
		want string
	}{
		{Node{}, "with no crio_socket to ask CRI-O on, reads these files ([daemon.runtime] crio_config and crio_config_dir) at each NRI connection and refuses every creation meanwhile"},
		{Node{CRIOStop: CRIOStop{Socket: "/run/crio/crio.sock"}}, "on crio_socket /run/crio/crio.sock, refuses every creation meanwhile"},
		{Node{CRIOStop: CRIOStop{Socket: "/run/crio/crio.sock"}, CRIORestoreUnsafe: true}, "crio_checkpoint_restore_unsafe = true: signgate admits creations"},
	} {
		if f := restoreFinding(c, tc.n); f.Holds || !strings.Contains(f.Detail, tc.want) || !strings.Contains(f.Detail, "30-on.conf") {
			t.Errorf("%+v: %+v", tc.n, f)
		}
	}
}
