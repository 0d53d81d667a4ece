package doctor

import (
	"strings"
	"testing"
)

// Sandboxes are not covered by NRI's validator: doctor flags a pause
// image named by tag (CRI-O's default is one), and not one pinned by
// digest.
func TestCRIOPauseImagePinned(t *testing.T) {
	base := map[string]string{"crio.conf.d/10-signgate.conf": dropIn}
	fs := checkCRIOFiles(t, base, connected("1.35.2"))
	if f := find(t, fs, "pod sandboxes run a pause image pinned by digest"); f.Holds || !strings.Contains(f.Detail, defaultPauseImage) {
		t.Errorf("CRI-O's default pause image: %+v", f)
	}
	base["crio.conf.d/20-pause.conf"] = "[crio.image]\npause_image = \"registry.k8s.io/pause@sha256:" + strings.Repeat("a", 64) + "\"\n"
	if f := find(t, checkCRIOFiles(t, base, connected("1.35.2")), "pod sandboxes run"); !f.Holds || !strings.Contains(f.Detail, "20-pause.conf") {
		t.Errorf("a pinned pause image: %+v", f)
	}
	base["crio.conf.d/30-tag.conf"] = "[CRIO.IMAGE]\nPAUSE_IMAGE = \"example.com/pause:latest\"\n"
	if f := find(t, checkCRIOFiles(t, base, connected("1.35.2")), "pod sandboxes run"); f.Holds || !strings.Contains(f.Detail, "example.com/pause:latest") {
		t.Errorf("a tag-only pause image: %+v", f)
	}
}
