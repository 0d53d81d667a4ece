package crio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// CRI-O resolves a hostPath's symlinks before the runtime (and signgate)
// see it: on a node whose storage root is reached through a symlink
// (/var/lib/containers on another disk), a hostPath into the layers
// arrives spelled by the resolved root, and is refused all the same.
func TestCRIOStorageRootThroughASymlink(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, 2, "reg.io/unsigned:v1")
	link := filepath.Join(t.TempDir(), "storage")
	if err := os.Symlink(f.s.Root, link); err != nil {
		t.Fatal(err)
	}
	s := f.s
	s.Root = link
	r := &Store{Storage: s, Volumes: runVolumes()}
	m := &api.Mount{Destination: "/x", Type: "bind", Source: filepath.Join(f.s.Root, "overlay", img.top, "diff"), Options: []string{"rbind", "ro"}}
	if _, ok, err := r.ImageVolumeOf(m); ok || err == nil || !strings.Contains(err.Error(), "/x") {
		t.Errorf("a layer's diff by the resolved root: bound (%v) or not refused (%v)", ok, err)
	}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/y", Type: "bind", Source: f.s.Root + "-other"}); ok || err != nil {
		t.Errorf("a sibling of the resolved root: %v %v", ok, err)
	}
}
