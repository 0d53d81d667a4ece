package doctor

import (
	"strings"
	"testing"
)

// TestCRIOArtifactMountsReported: doctor says whether CRI-O mounts OCI
// artifact volumes (its default) or refuses them itself, naming the file,
// however the key is spelled; either way none runs unverified.
func TestCRIOArtifactMountsReported(t *testing.T) {
	const g = "OCI artifact volumes do not run unverified"
	files := map[string]string{"crio.conf.d/10-signgate.conf": dropIn}
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); !f.Holds || !strings.Contains(f.Detail, "CRI-O's default") || !strings.Contains(f.Detail, "signgate refuses") {
		t.Errorf("CRI-O's default: %+v", f)
	}
	files["crio.conf.d/20-art.conf"] = "[CRIO.IMAGE]\nOCI_ARTIFACT_MOUNT_SUPPORT = false\n"
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); !f.Holds || !strings.Contains(f.Detail, "20-art.conf") || !strings.Contains(f.Detail, "= false") {
		t.Errorf("turned off: %+v", f)
	}
	files["crio.conf.d/30-on.conf"] = "[crio.image]\noci_artifact_mount_support = true\n"
	if f := find(t, checkCRIOFiles(t, files, connected("1.35.2")), g); !strings.Contains(f.Detail, "30-on.conf") || !strings.Contains(f.Detail, "is on") {
		t.Errorf("turned on again: %+v", f)
	}
}
