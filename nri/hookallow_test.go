package nri

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestHookProgramNotListedIsRefused: a host program that runs its
// arguments, which no list of interpreters or runners knows (a wrapper
// execing argv), ran as root whatever the hook named: every check judged
// only the words the hook shows. A hook another plugin adds now runs only
// a program [hooks] allowed_programs names; a listed one is still judged
// by every other check.
func TestHookProgramNotListedIsRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "usr", "bin", "xyz-wrapper")
	if err := os.MkdirAll(filepath.Dir(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	validate := func(h *api.Hook) error {
		adj := &api.ContainerAdjustment{}
		adj.AddHooks(&api.Hooks{CreateRuntime: []*api.Hook{h}})
		owners := api.NewOwningPlugins()
		if err := owners.ClaimHooks(c.Id, "90-wrapper"); err != nil {
			t.Fatal(err)
		}
		return f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: adj, Owners: owners})
	}
	runs := &api.Hook{Path: wrapper, Args: []string{"xyz-wrapper", "/some/path"}}

	// Nothing listed (the default): refused, naming the plugin, the
	// program and the key to set.
	err := validate(runs)
	if err == nil {
		t.Fatal("a host program not listed, which runs its arguments, was let run")
	}
	for _, want := range []string{`"90-wrapper"`, wrapper, "[hooks] allowed_programs"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not name %s: %v", want, err)
		}
	}
	// Another program listed: still refused.
	allowHooks(f, "/usr/bin/nvidia-ctk")
	if err := validate(runs); err == nil || !strings.Contains(err.Error(), "allowed_programs") {
		t.Errorf("a program other than the one listed: %v", err)
	}
	// Listed: it runs.
	allowHooks(f, wrapper)
	if err := validate(runs); err != nil {
		t.Errorf("a listed program: %v", err)
	}
	// Listed, and still judged: an argument from a snapshot, a shell
	// named among its arguments, an image's library preloaded.
	for _, h := range []*api.Hook{
		{Path: wrapper, Args: []string{"xyz-wrapper", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/bin/evil"}},
		{Path: wrapper, Args: []string{"xyz-wrapper", "/bin/sh", "-c", "exit 0"}},
		{Path: wrapper, Args: []string{"xyz-wrapper"}, Env: []string{"LD_PRELOAD=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/evil.so"}},
	} {
		if err := validate(h); err == nil || strings.Contains(err.Error(), "allowed_programs") {
			t.Errorf("a listed program with %q %q: %v, want refused by the other checks", h.Args, h.Env, err)
		}
	}
	// A hook's path is compared as written: another spelling of the
	// listed program is not it.
	if err := validate(&api.Hook{Path: dir + "/usr/bin/../bin/xyz-wrapper"}); err == nil {
		t.Error("a listed program spelt with .. was let run")
	}
	// A link to the listed program is not listed; a listed link runs
	// only if what it leads to is listed too.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(wrapper, link); err != nil {
		t.Fatal(err)
	}
	if err := validate(&api.Hook{Path: link}); err == nil || !strings.Contains(err.Error(), "allowed_programs") {
		t.Errorf("a link to a listed program: %v", err)
	}
	allowHooks(f, link)
	if err := validate(&api.Hook{Path: link}); err == nil || !strings.Contains(err.Error(), "a link to "+wrapper) {
		t.Errorf("a listed link to a program not listed: %v", err)
	}
	allowHooks(f, link, wrapper)
	if err := validate(&api.Hook{Path: link}); err != nil {
		t.Errorf("a listed link to a listed program: %v", err)
	}
}

// TestHookProgramThatCannotBeListed: an allowed program that is an
// interpreter or a runner, or lies where images' files do, would allow
// nothing the other checks let run; setup refuses it at load by these
// rules.
func TestHookProgramThatCannotBeListed(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gpu-hook"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gpu-hook", filepath.Join(dir, "python3")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/bin/nice", filepath.Join(dir, "renice-hook")); err != nil {
		t.Fatal(err)
	}
	// busybox's applets are judged by their own names.
	if err := os.WriteFile(filepath.Join(dir, "busybox"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"true", "sh"} {
		if err := os.Symlink("busybox", filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	// A link into what containers write (a pod's emptyDir).
	vol := filepath.Join(dir, "pods", "0123", "volumes", "kubernetes.io~empty-dir", "x")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "hook"), []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(vol, "hook"), filepath.Join(dir, "vol-hook")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{
		"/bin/sh", "/bin/hush", "/usr/bin/python3.12", "/usr/bin/env", "/usr/bin/nice", "/usr/sbin/chroot", "/bin/busybox",
		"/lib64/ld-linux-x86-64.so.2", filepath.Join(dir, "python3"), filepath.Join(dir, "renice-hook"), filepath.Join(dir, "vol-hook"), filepath.Join(dir, "sh"), filepath.Join(dir, "busybox"),
		"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs/bin/hook",
		"/proc/1/root/usr/bin/hook",
		"/var/lib/kubelet/pods/0123/volumes/kubernetes.io~empty-dir/x/hook",
	} {
		if HookProgramRefused(p) == "" {
			t.Errorf("%s may be listed", p)
		}
	}
	for _, p := range []string{"/usr/bin/nvidia-ctk", "/usr/local/nvidia/toolkit/nvidia-container-runtime-hook", filepath.Join(dir, "gpu-hook"), filepath.Join(dir, "true")} {
		if why := HookProgramRefused(p); why != "" {
			t.Errorf("%s: %s", p, why)
		}
	}
}
