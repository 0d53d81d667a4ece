package nri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestAddedListedSourceSwappableIsRefused: the links in a listed
// directory are judged when the mount is, and followed by the runtime
// later; someone who may write the directory, or one above it, swaps a
// link in between. A bind of a listed path on which a directory is
// writable by others is refused naming it; root's 0755 passes, and so
// does a sticky /tmp above it.
func TestAddedListedSourceSwappableIsRefused(t *testing.T) {
	tmp := t.TempDir()
	open, shut := filepath.Join(tmp, "open"), filepath.Join(tmp, "shut")
	for _, d := range []string{filepath.Join(open, "lib"), filepath.Join(shut, "lib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	ro := func(src string) *api.Mount {
		return &api.Mount{Destination: "/h", Source: src, Type: "bind", Options: []string{"bind", "ro"}}
	}
	for _, src := range []string{open, filepath.Join(open, "lib")} {
		err := validateAdded(t, listing(newFixture(t), tmp), &api.ContainerAdjustment{Mounts: []*api.Mount{ro(src)}}, nil)
		if err == nil || !strings.Contains(err.Error(), open+" is writable by others") {
			t.Errorf("a bind of %s, under a directory writable by others: %v", src, err)
		}
	}
	if err := validateAdded(t, listing(newFixture(t), tmp), &api.ContainerAdjustment{Mounts: []*api.Mount{ro(filepath.Join(shut, "lib"))}}, nil); err != nil {
		t.Errorf("a bind of a listed directory no one else may write: %v", err)
	}
}
