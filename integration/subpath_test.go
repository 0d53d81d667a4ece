package integration

import (
	"os"
	"path/filepath"
	"testing"

	"syscall"
)

// subpathMount stands for the kubelet's subPath mount: the directory a pod
// named, bind-mounted under pods/<uid>/volume-subpaths/, whose path alone
// the runtime is given.
func subpathMount(t *testing.T, src, name string) string {
	t.Helper()
	at := filepath.Join(t.TempDir(), "kubelet", "pods", "uid1", "volume-subpaths", name, "app", "0")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(src, at, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mounting %s at %s: %v", src, at, err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(at, syscall.MNT_DETACH) })
	return at
}

// TestSubpathIntoSnapshotIsRefused: a hostPath of containerd's snapshot
// directory with a subPath (123/fs) reaches the runtime as the kubelet's
// bind mount, a path that names no snapshot. What it shows is resolved
// from the mount table and refused; a subPath of an ordinary directory is
// admitted.
func TestSubpathIntoSnapshotIsRefused(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	ref := e.Registry + "/signed/subpath:v1"
	e.image("signed/subpath", "k1")
	plain := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(plain, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	at := subpathMount(t, filepath.Join(plain, "site"), "web")
	id, err := e.Create(pod, cfg, ref, func(c map[string]any) {
		c["mounts"] = []map[string]any{{"container_path": "/site", "host_path": at, "readonly": true}}
	})
	mustAllow(t, id, err)
	// The image is pulled: its snapshot is there to mount.
	snap := filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots", "1", "fs")
	at = subpathMount(t, snap, "host")
	_, err = e.Create(pod, cfg, ref, func(c map[string]any) {
		c["mounts"] = []map[string]any{{"container_path": "/layers", "host_path": at, "readonly": true}}
	})
	mustDeny(t, err, "the mount at /layers", "subPath", at, "snapshotter")
}
