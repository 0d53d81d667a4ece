package nri

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/crio"
	"github.com/signgate/signgate/internal/trustpath"
)

// TestHookAddedByAnotherPluginIsJudged: a plugin after signgate may add
// OCI hooks, which the runtime runs on the host as root; CreateContainer
// never saw them and the admission does not cover them. A hook whose
// program (or script) lies in an image's files is refused, naming the
// hook and the plugin; a host program (nvidia-ctk) is not.
func TestHookAddedByAnotherPluginIsJudged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	validate := func(h *api.Hook, owner string) error {
		adj := &api.ContainerAdjustment{}
		adj.AddHooks(&api.Hooks{CreateRuntime: []*api.Hook{h}})
		owners := api.NewOwningPlugins()
		if owner != "" {
			if err := owners.ClaimHooks(c.Id, owner); err != nil {
				t.Fatal(err)
			}
		}
		return f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: adj, Owners: owners})
	}
	for _, h := range []*api.Hook{
		{Path: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/bin/evil"},
		{Path: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/0123/rootfs/bin/evil"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/x"}},
		{Path: "/bin/sh", Args: []string{"sh", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/x.sh"}},
		{Path: volumeDir + hexOf('1') + "/bin/x"},
		{Path: "/proc/1234/root/bin/evil"},
		{Path: "bin/evil"},
		{Path: "/var/lib/containerd/io.containerd.grpc.v1.cri/containers/0123/volumes/4567/evil"},
		{Path: "/var/lib/kubelet/pods/0123-4567/volumes/kubernetes.io~empty-dir/cache/evil"},
		{Path: "/var/lib/kubelet/pods/0123-4567/volume-subpaths/v/app/0/evil"},
		{Path: "/var/lib/containers/storage/overlay-containers/0123/userdata/evil"},
	} {
		if err := validate(h, "injector"); err == nil || !strings.Contains(err.Error(), "createRuntime hook") || !strings.Contains(err.Error(), `"injector"`) {
			t.Errorf("hook %v: %v", h, err)
		}
	}
	// Who added it is not always known: the hook is refused all the same.
	if err := validate(&api.Hook{Path: "/proc/self/root/x"}, ""); err == nil || !strings.Contains(err.Error(), "another NRI plugin") {
		t.Errorf("a hook of no known plugin: %v", err)
	}
	// CRI-O's layers, by CRI-O's layout.
	f.p.Runtime = &crio.Store{Storage: crio.Storage{Root: "/var/lib/containers/storage", Driver: "overlay"}}
	if err := f.p.addedHooks(c.Id, hooksAdj("/var/lib/containers/storage/overlay/abc/diff/bin/evil"), nil); err == nil || !strings.Contains(err.Error(), "CRI-O's image layers") {
		t.Errorf("a hook from CRI-O's layers: %v", err)
	}
	allowHooks(f, "/usr/bin/nvidia-ctk")
	if err := f.p.addedHooks(c.Id, hooksAdj("/usr/bin/nvidia-ctk"), nil); err != nil {
		t.Errorf("a host program on CRI-O: %v", err)
	}
}

// TestHostHooksPass: hooks from the host's programs, as GPU and other
// device plugins add them, are not refused.
func TestHostHooksPass(t *testing.T) {
	f := newFixture(t)
	progs := []string{"/usr/bin/nvidia-ctk", "/usr/local/nvidia/toolkit/nvidia-container-runtime-hook", "/opt/hooks/image-volumes-cleanup"}
	allowHooks(f, progs...) // [hooks] allowed_programs names them
	for _, p := range progs {
		adj := hooksAdj(p)
		adj.Hooks.Prestart[0].Args = []string{p, "hook", "create-symlinks", "--link=/usr/lib/x", "prestart"}
		if err := f.p.addedHooks("c", adj, nil); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// allowHooks is [hooks] allowed_programs = progs, on a host whose
// programs these tests name but do not write (/usr/bin/nvidia-ctk) are
// there, root's; those they write are checked as they are.
func allowHooks(f *fixture, progs ...string) {
	f.p.HookPrograms = func() []string { return progs }
	f.p.hostProgram = func(prog string) (string, error) {
		r, err := trustpath.Resolve(prog)
		if errors.Is(err, fs.ErrNotExist) {
			return prog, nil
		}
		return r, err
	}
}

func hooksAdj(p string) *api.ContainerAdjustment {
	adj := &api.ContainerAdjustment{}
	adj.AddHooks(&api.Hooks{Prestart: []*api.Hook{{Path: p}}})
	return adj
}

// TestHookEnvAndWordsAreJudged: a hook's environment names programs the
// host runs as surely as its arguments do (LD_PRELOAD, a script in
// BASH_ENV), and a shell's argument is words, any of which may be the
// path: a host program with an image's library preloaded, or a script
// started by its path after a word, runs an image's files unverified.
func TestHookEnvAndWordsAreJudged(t *testing.T) {
	f := newFixture(t)
	snap := "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/evil.so"
	adj := hooksAdj("/usr/bin/true")
	adj.Hooks.Prestart[0].Env = []string{"LD_PRELOAD=" + snap}
	if err := f.p.addedHooks("c", adj, nil); err == nil || !strings.Contains(err.Error(), "LD_PRELOAD") {
		t.Errorf("a hook preloading a snapshot's library: %v", err)
	}
	f.p.Runtime = &crio.Store{Storage: crio.Storage{Root: "/var/lib/containers/storage", Driver: "overlay"}}
	adj = hooksAdj("/bin/sh")
	adj.Hooks.Prestart[0].Args = []string{"sh", "-c", "exec /var/lib/containers/storage/overlay/abc/diff/bin/evil"}
	if err := f.p.addedHooks("c", adj, nil); err == nil || !strings.Contains(err.Error(), "CRI-O's image layers") {
		t.Errorf("a shell starting a program from CRI-O's layers: %v", err)
	}
	adj = hooksAdj("/usr/bin/true")
	adj.Hooks.Prestart[0].Env = []string{"LD_PRELOAD=/var/lib/containers/storage/overlay/abc/diff/evil.so"}
	if err := f.p.addedHooks("c", adj, nil); err == nil || !strings.Contains(err.Error(), "CRI-O's image layers") {
		t.Errorf("a hook preloading a library from CRI-O's layers: %v", err)
	}
	// The host's own environment passes.
	allowHooks(f, "/usr/bin/nvidia-ctk")
	adj = hooksAdj("/usr/bin/nvidia-ctk")
	adj.Hooks.Prestart[0].Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "NVIDIA_VISIBLE_DEVICES=all"}
	if err := f.p.addedHooks("c", adj, nil); err != nil {
		t.Errorf("a host hook's environment: %v", err)
	}
}

// TestHookCodeThatCannotBeFollowedIsRefused: a hook's words are judged as
// literal paths, so a hook that builds its paths at run time (a glob, a
// variable, an escape, a shell's `cd` then a relative name, code read from
// the container's state on stdin, whose annotations the pod's author
// writes) could run an image's files unverified. Each was let through.
func TestHookCodeThatCannotBeFollowedIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, h := range []struct {
		prog string
		args []string
		env  []string
		want string
	}{
		{"/bin/sh", []string{"sh", "-c", "exec /var/lib/containerd/io.*.snapshotter.v1.overlayfs/snapshots/7/fs/evil"}, nil, "'*'"},
		{"/bin/sh", []string{"sh", "-c", "exec /var/lib/containerd/io.c?ntainerd.snapshotter.v1.overlayfs/snapshots/7/fs/evil"}, nil, "'?'"},
		{"/bin/sh", []string{"sh", "-c", "d=/var/lib/containerd/io.contain; exec ${d}erd.snapshotter.v1.overlayfs/snapshots/7/fs/evil"}, nil, "'$'"},
		{"/bin/sh", []string{"sh", "-c", "exec /var/lib/containerd/io.contain\\erd.snapshotter.v1.overlayfs/snapshots/7/fs/evil"}, nil, "images' files"},
		{"/usr/bin/find", []string{"find", "/var/lib/containerd", "-name", "evil", "-exec", "{}", ";"}, nil, "'{'"},
		{"/usr/bin/true", nil, []string{"DIR=/var/lib/containerd/io.c*"}, "environment variable"},
		// No expansion at all: a shell walks there with cd and relative names.
		{"/bin/sh", []string{"sh", "-c", "cd /var/lib && cd containerd && cd snapshots && exec ./evil"}, nil, "interpreter (sh)"},
		// A shell reading the container's state (annotations) as its code.
		{"/bin/bash", []string{"bash"}, nil, "interpreter (bash)"},
		{"/bin/sh", nil, nil, "interpreter (sh)"},
		{"/usr/bin/python3.12", []string{"python3", "-c", "import os; os.execv('evil', ('evil',))"}, nil, "interpreter (python3.12)"},
		// A program run by another (a runner), which signgate would have
		// to parse each runner's options to find.
		{"/usr/bin/nsenter", []string{"nsenter", "-t", "1", "-m", "--", "sh", "-c", "cd /tmp; ./evil"}, nil, "another program named in its arguments (nsenter)"},
		{"/usr/bin/nice", []string{"nice", "rootfs/tmp/evil"}, nil, "(nice)"},
		{"/usr/sbin/chroot", []string{"chroot", "rootfs", "/tmp/evil"}, nil, "(chroot)"},
		{"/usr/bin/timeout", []string{"timeout", "5", "./rootfs/tmp/evil"}, nil, "(timeout)"},
		{"/usr/bin/script", []string{"script", "-qc", "cd /run && ./containerd/x/evil", "/dev/null"}, nil, "(script)"},
		{"/lib64/ld-linux-x86-64.so.2", []string{"ld.so", "rootfs/evil"}, nil, "(ld-linux-x86-64.so.2)"},
		{"/usr/sbin/runuser", []string{"runuser", "-u", "root", "-c", "cd /tmp; ./evil"}, nil, "interpreter (runuser)"},
		// An interpreter or a runner named among another program's arguments.
		{"/usr/bin/nvidia-ctk", []string{"nvidia-ctk", "--exec", "/usr/bin/perl", "-e", "exec 'evil'"}, nil, "names an interpreter or a program runner (perl)"},
		// A relative path leads from the runtime's bundle: into the
		// container's own root filesystem, or out to another's.
		{"/usr/local/bin/gpu-hook", []string{"gpu-hook", "--run", "rootfs/tmp/evil"}, nil, "into a root filesystem"},
		{"/usr/local/bin/gpu-hook", []string{"gpu-hook", "--run=./rootfs/evil"}, nil, "into a root filesystem"},
		{"/usr/local/bin/gpu-hook", []string{"gpu-hook", "../../x/evil"}, nil, `".." component`},
		{"/usr/local/bin/gpu-hook", nil, []string{"LD_PRELOAD=rootfs/evil.so"}, "into a root filesystem"},
	} {
		adj := hooksAdj(h.prog)
		adj.Hooks.Prestart[0].Args = h.args
		adj.Hooks.Prestart[0].Env = h.env
		if err := f.p.addedHooks("c", adj, nil); err == nil || !strings.Contains(err.Error(), h.want) {
			t.Errorf("%s %q %q: %v, want an error with %s", h.prog, h.args, h.env, err, h.want)
		}
	}
	// On CRI-O, a glob into its layers.
	f.p.Runtime = &crio.Store{Storage: crio.Storage{Root: "/var/lib/containers/storage", Driver: "overlay"}}
	adj := hooksAdj("/bin/sh")
	adj.Hooks.Prestart[0].Args = []string{"sh", "-c", "exec /var/lib/containers/storage/overl*/abc/diff/bin/evil"}
	if err := f.p.addedHooks("c", adj, nil); err == nil {
		t.Errorf("a glob into CRI-O's layers was let through")
	}
	// What device plugins add still passes these checks: a script by its
	// path, a library directory named after python, a host program's
	// flags. (A shell is never in allowed_programs, which refuses it at
	// load: such a hook names its script as its program instead; listed
	// here, it shows what these checks alone let through.)
	sh, _ := filepath.EvalSymlinks("/bin/sh") // dash, bash: what the host has
	allowHooks(f, "/bin/sh", sh, "/usr/bin/nvidia-ctk")
	for _, h := range []struct {
		prog string
		args []string
	}{
		{"/bin/sh", []string{"sh", "/usr/local/libexec/oci-hooks/gpu.sh"}},
		{"/bin/sh", []string{"sh", "/usr/local/libexec/oci-hooks/gpu.sh", "prestart", "--verbose"}},
		{"/usr/bin/nvidia-ctk", []string{"nvidia-ctk", "hook", "update-ldcache", "--folder", "/usr/lib/python3/dist-packages"}},
		{"/usr/bin/nvidia-ctk", []string{"nvidia-ctk", "hook", "create-symlinks", "--link=libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so"}},
	} {
		adj := hooksAdj(h.prog)
		adj.Hooks.Prestart[0].Args = h.args
		if err := f.p.addedHooks("c", adj, nil); err != nil {
			t.Errorf("%s %q: %v", h.prog, h.args, err)
		}
	}
	// On a busybox host every program links to busybox, which acts as
	// the applet it is called by: the link is judged by its own name.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busybox"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"true", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	allowHooks(f, filepath.Join(dir, "true"), filepath.Join(dir, "sh"))
	adj = hooksAdj(filepath.Join(dir, "true"))
	if err := f.p.addedHooks("c", adj, nil); err != nil {
		t.Errorf("a busybox applet that runs nothing: %v", err)
	}
	adj = hooksAdj(filepath.Join(dir, "sh"))
	adj.Hooks.Prestart[0].Args = []string{"sh", "-c", "exit 0"}
	if err := f.p.addedHooks("c", adj, nil); err == nil || !strings.Contains(err.Error(), "interpreter (sh)") {
		t.Errorf("busybox's sh: %v", err)
	}
}
