package trustpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// TestForeignLinkInAStickyDirIsUntrusted: a symbolic link in a sticky
// directory (/tmp) owned by another user is refused though its target is
// trusted: that user may replace it. Root's own link passes.
func TestForeignLinkInAStickyDirIsUntrusted(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "chown to nobody needs root")
	}
	base := t.TempDir()
	sticky := filepath.Join(base, "tmp")
	if err := os.Mkdir(sticky, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o1777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(base, "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mine, foreign := filepath.Join(sticky, "mine"), filepath.Join(sticky, "foreign")
	for _, l := range []string{mine, foreign} {
		if err := os.Symlink(prog, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if r, err := Resolve(mine); err != nil || r != prog {
		t.Errorf("root's link in a sticky directory: %q, %v; want %s", r, err, prog)
	}
	var u *UntrustedError
	if _, err := Resolve(foreign); !errors.As(err, &u) || u.Path != foreign {
		t.Errorf("nobody's link in a sticky directory: %v; want an *UntrustedError naming %s", err, foreign)
	}
}
