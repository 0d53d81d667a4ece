package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// TestAddedMountSourcesThatAllowNothingAreRefused: a listed directory that
// is a link to / (above every runtime's state), or that lies where
// containers write, would let no added mount through: a mistake, refused
// at load naming the file, the key and why. A plain directory is kept.
func TestAddedMountSourcesThatAllowNothingAreRefused(t *testing.T) {
	dir := t.TempDir()
	plain, root := filepath.Join(dir, "nvidia"), filepath.Join(dir, "root")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", root); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	body := "[added_mounts]\nallowed_sources = [\"" + plain + "\", \"" + root + "\", \"/srv/x/pods/u/volumes/v\", \"relative\"]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Load(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{path, "added_mounts.allowed_sources[1]", "a link to /", "added_mounts.allowed_sources[2]", "pod volumes", "added_mounts.allowed_sources[3]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\nwant %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "allowed_sources[0]") {
		t.Errorf("a plain directory refused: %v", err)
	}
	if strings.Count(err.Error(), "allowed_sources[3]") != 1 {
		t.Errorf("a relative path is said once: %v", err)
	}
}
