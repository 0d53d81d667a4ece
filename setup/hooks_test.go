package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// TestHookProgramsThatAllowNothingAreRefused: an interpreter, a program
// runner or a program where images' files lie in [hooks] allowed_programs
// would let hooks run what nri's checks refuse anyway: a mistake, refused
// at load naming the file, the key and why.
func TestHookProgramsThatAllowNothingAreRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	body := "[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\", \"/bin/bash\", \"/usr/bin/nice\", \"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs/hook\", \"relative\"]\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := setup.Load(path)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{path, "hooks.allowed_programs[1]", "interpreter", "hooks.allowed_programs[2]", "/usr/bin/nice is an interpreter or a program runner", "hooks.allowed_programs[3]", "containerd's state", "hooks.allowed_programs[4]"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\nwant %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "allowed_programs[0]") {
		t.Errorf("nvidia-ctk refused: %v", err)
	}
	if strings.Count(err.Error(), "allowed_programs[4]") != 1 {
		t.Errorf("a relative path is said once: %v", err)
	}
}
