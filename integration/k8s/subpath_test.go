package k8s_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// A hostPath volume with a subPath reaches containerd as the kubelet's bind
// mount under volume-subpaths, a path that names no snapshot. signgate, in
// the shipped DaemonSet, resolves it from the node's mount table: a subPath
// into containerd's snapshot directory is refused, one into an ordinary
// directory runs.
func TestKubeletSubpathIntoSnapshotIsRefused(t *testing.T) {
	need(t)
	app := image(t, "subpath/app", "k1")
	snaps := filepath.Join(E.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots")
	if _, err := os.Stat(filepath.Join(snaps, "1", "fs")); err != nil {
		t.Fatalf("no snapshot to mount: %v", err)
	}
	plain := t.TempDir()
	if err := os.MkdirAll(filepath.Join(plain, "site"), 0o755); err != nil {
		t.Fatal(err)
	}
	pod := func(n, dir, sub string, ref name.Digest) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %[1]s, namespace: default, labels: {app: %[1]s}}
spec:
  hostNetwork: true
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %[4]s
    volumeMounts: [{name: host, mountPath: /data, subPath: %[3]q, readOnly: true}]
  volumes:
  - name: host
    hostPath: {path: %[2]q, type: Directory}
`, n, dir, sub, ref.Context().Tag("v1"))
	}
	apply(t, pod("subpath-plain", plain, "site", app))
	apply(t, pod("subpath-snapshot", snaps, "1/fs", app))
	if err := C.WaitReady("default", "app=subpath-plain", 2*time.Minute); err != nil {
		t.Fatalf("the pod with a subPath of an ordinary directory: %v", err)
	}
	msg, events := waiting(t, "default", "subpath-snapshot", "CreateContainerError")
	if !strings.Contains(msg, "volume-subpaths") || !strings.Contains(msg, "snapshotter") {
		t.Fatalf("the pod with a subPath into the snapshot directory:\nmessage: %s\nevents:\n%s", msg, events)
	}
}
