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
