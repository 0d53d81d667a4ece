package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
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

// TestHookProgramOthersCanReplaceIsRefused: a listed program runs as root
// in every container the hook is added to; before, one another user could
// replace (its mode, its directory's, its owner) was accepted at load.
// It is refused naming the file, the key and the path that others may
// write, as a notation plugin's is; one signgate cannot see is warned of
// (nri refuses a hook running it).
func TestHookProgramOthersCanReplaceIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root to chown")
	}
	dir := t.TempDir()
	bin, open := filepath.Join(dir, "bin"), filepath.Join(dir, "open")
	for _, d := range []string{bin, open} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	prog := func(d, name string, mode os.FileMode) string {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, []byte("#!/bin/true\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := prog(bin, "gpu-hook", 0o755)
	groupW := prog(bin, "group-writable", 0o775)
	worldW := prog(bin, "world-writable", 0o757)
	nobodys := prog(bin, "nobodys", 0o755)
	if err := os.Chown(nobodys, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	inOpen := prog(open, "gpu-hook", 0o755)
	absent := filepath.Join(bin, "absent")
	path := filepath.Join(dir, "config.toml")
	write := func(list ...string) (*setup.Config, error) {
		t.Helper()
		body := "[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n[hooks]\nallowed_programs = [\"" + strings.Join(list, `", "`) + "\"]\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return setup.Load(path)
	}
	_, err := write(good, groupW, worldW, nobodys, inOpen)
	if err == nil {
		t.Fatal("programs others can replace were accepted")
	}
	for _, w := range []string{
		path,
		`hooks.allowed_programs[1] = "` + groupW + `": ` + groupW + " is writable by others",
		`hooks.allowed_programs[2] = "` + worldW + `": ` + worldW + " is writable by others",
		`hooks.allowed_programs[3] = "` + nobodys + `": ` + nobodys + " is owned by uid 65534",
		`hooks.allowed_programs[4] = "` + inOpen + `": ` + open + " is writable by others",
		"another user could replace it",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v\nwant %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "allowed_programs[0]") {
		t.Errorf("a root-owned program in a root-owned directory refused: %v", err)
	}
	c, err := write(good, absent)
	if err != nil {
		t.Fatalf("a program signgate cannot see (another node's) is only warned of: %v", err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "signgate cannot see "+absent) || strings.Contains(w, good) {
		t.Errorf("warnings: %s", w)
	}
}
