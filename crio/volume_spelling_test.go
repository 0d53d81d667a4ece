package crio

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// A mount another plugin adds (NRI's device-injector takes type and
// options from a pod's annotations) may spell a path into CRI-O's layers
// as the kernel reads an overlay's options: several options joined by a
// comma in one (runc passes it on as written), a backslash escape, a
// path relative to the bundle directory. Each is refused.
func TestCRIOStorageRootSpellingsAreRefused(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, 2, "reg.io/unsigned:v1")
	r := &Store{Storage: f.s, Volumes: runVolumes()}
	diff := filepath.Join(f.s.Root, "overlay", img.top, "diff")
	escaped := strings.Replace(diff, "/overlay/", `/over\lay/`, 1)
	for name, o := range map[string]string{
		"after a comma":      "index=off,lowerdir=" + diff,
		"escaped":            "lowerdir=/tmp/a:" + escaped,
		"escaped and joined": `redirect_dir=off,lowerdir=` + escaped,
		"relative":           "lowerdir=../../../../.." + diff,
	} {
		m := &api.Mount{Destination: "/x", Type: "overlay", Source: "overlay", Options: []string{o}}
		if _, ok, err := r.ImageVolumeOf(m); ok || err == nil || !strings.Contains(err.Error(), "/x") {
			t.Errorf("%s (%q): bound (%v) or not refused (%v)", name, o, ok, err)
		}
	}
}
