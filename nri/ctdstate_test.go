package nri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestAddedBindOfUnconfiguredContainerdStateIsRefused: containerd's root
// may lie where only its own config says (/data/containerd), which
// signgate's does not read: an admin who lists /data would let a pod
// bind every snapshot. A listed source that holds containerd's root or
// state (one level down), is it, or lies in it, is refused by what
// containerd keeps there; a sibling directory passes.
func TestAddedBindOfUnconfiguredContainerdStateIsRefused(t *testing.T) {
	data := t.TempDir()
	root := filepath.Join(data, "containerd")
	for _, d := range []string{filepath.Join(root, "io.containerd.metadata.v1.bolt"), filepath.Join(root, "tmpmounts", "x"), filepath.Join(data, "models")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ro := func(src string) *api.Mount {
		return &api.Mount{Destination: "/h", Source: src, Type: "bind", Options: []string{"bind", "ro"}}
	}
	for _, src := range []string{data, root, filepath.Join(root, "tmpmounts", "x"), filepath.Join(root, "io.containerd.metadata.v1.bolt")} {
		err := validateAdded(t, listing(newFixture(t), data), &api.ContainerAdjustment{Mounts: []*api.Mount{ro(src)}}, nil)
		if err == nil || !strings.Contains(err.Error(), "containerd's") {
			t.Errorf("a listed bind of %s: %v; want a refusal naming containerd's state", src, err)
		}
	}
	if err := validateAdded(t, listing(newFixture(t), data), &api.ContainerAdjustment{Mounts: []*api.Mount{ro(filepath.Join(data, "models"))}}, nil); err != nil {
		t.Errorf("a listed bind beside containerd's root: %v", err)
	}
}
