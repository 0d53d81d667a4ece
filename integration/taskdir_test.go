package integration

import (
	"path/filepath"
	"testing"
)

// TestTaskDirectoryMountIsRefused: containerd's runtime task directory
// holds the mounted root filesystem of every task, in every containerd
// namespace (moby's, ctr's), which signgate never gated. A signed
// container that mounts it from the host (a hostPath) could run any of
// them: refused, as a snapshotter's directory is.
func TestTaskDirectoryMountIsRefused(t *testing.T) {
	e := need(t)
	pod, cfg := e.pod("default")
	e.image("signed/tasks", "k1")
	tasks := filepath.Join(e.Dir, "state", "io.containerd.runtime.v2.task")
	_, err := e.Create(pod, cfg, e.Registry+"/signed/tasks:v1", func(c map[string]any) {
		c["mounts"] = []map[string]any{{"container_path": "/tasks", "host_path": tasks, "readonly": true}}
	})
	mustDeny(t, err, "the mount at /tasks", "task directory")
}
