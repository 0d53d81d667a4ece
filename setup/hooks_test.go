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

// A listed link whose target is not listed lets no hook run: said as a
// warning at load (the host's links may change after it).
func TestHookProgramLinkIsWarnedOf(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "gpu-hook-1.2"), filepath.Join(dir, "gpu-hook")
	if err := os.WriteFile(target, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	write := func(list string) *setup.Config {
		t.Helper()
		if err := os.WriteFile(path, []byte("[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n[hooks]\nallowed_programs = ["+list+"]\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := setup.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if w := strings.Join(write(`"`+link+`"`).Warnings(), "\n"); !strings.Contains(w, "a link to "+target) {
		t.Errorf("warnings: %s", w)
	}
	if w := strings.Join(write(`"`+link+`", "`+target+`"`).Warnings(), "\n"); strings.Contains(w, "hooks") {
		t.Errorf("both listed: %s", w)
	}
}
