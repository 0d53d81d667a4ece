package nri

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// TestListedHookProgramOthersCanReplaceIsRefused: a listed program runs
// as root for every container the hook is added to; before, one in a
// directory another user (or a pod's hostPath) could write was run
// whatever it had been replaced with. Now it runs only when it, and every
// directory and link on its way, is root's (or signgate's user's) and
// writable by no one else, as a notation plugin must be; and one signgate
// cannot see at all (the host's /usr/bin, in a pod not given it) is not
// run either, for who may change it cannot be told.
func TestListedHookProgramOthersCanReplaceIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root to chown")
	}
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	validate := func(prog string) error {
		adj := &api.ContainerAdjustment{}
		adj.AddHooks(&api.Hooks{CreateRuntime: []*api.Hook{{Path: prog}}})
		owners := api.NewOwningPlugins()
		if err := owners.ClaimHooks(c.Id, "90-gpu"); err != nil {
			t.Fatal(err)
		}
		return f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: adj, Owners: owners})
	}
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(bin, "gpu-hook")
	if err := os.WriteFile(prog, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(bin, "absent-hook")
	allowHooks(f, prog, absent)
	f.p.hostProgram = nil // the host as it is

	if err := validate(prog); err != nil {
		t.Fatalf("a root-owned program in a root-owned directory: %v", err)
	}
	refused := func(what, want string) {
		t.Helper()
		err := validate(prog)
		if err == nil {
			t.Errorf("%s: a listed program another user could replace was run", what)
			return
		}
		for _, w := range []string{`"90-gpu"`, prog, want, "another user could replace"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the refusal does not name %q: %v", what, w, err)
			}
		}
	}
	for _, mode := range []os.FileMode{0o775, 0o757} {
		chmod(t, prog, mode)
		refused("program mode "+mode.String(), prog+" is writable by others")
	}
	chmod(t, prog, 0o755)
	chmod(t, bin, 0o777)
	refused("directory mode 0777", bin+" is writable by others")
	chmod(t, bin, 0o775)
	refused("directory mode 0775", bin+" is writable by others")
	chmod(t, bin, 0o755)
	if err := os.Chown(prog, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	refused("owned by nobody", "owned by uid 65534")
	if err := os.Chown(prog, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := validate(prog); err != nil {
		t.Errorf("made root's again: %v", err)
	}

	// Listed but not there where signgate looks: not run.
	err := validate(absent)
	if err == nil || !strings.Contains(err.Error(), "signgate cannot see") || !strings.Contains(err.Error(), absent) {
		t.Errorf("a listed program signgate cannot see: %v", err)
	}
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}
