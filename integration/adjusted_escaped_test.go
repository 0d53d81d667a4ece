package integration

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestEscapedOverlayAddedByAnotherPluginIsJudged: the validator reads an
// overlay's options as the kernel does (containerd 2.2 and newer).
func TestEscapedOverlayAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/escaped:v1"
	e.image("signed/escaped", "k1")
	snap := strings.Replace(filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots"), "snapshotter", `snap\shotter`, 1)
	lower := snap + "/1/fs:" + snap + "/2/fs"
	// overlayInjector adds the mount a pod's annotations ask for, type and
	// options included (as NRI's device-injector does): an overlay whose
	// lowerdir spells a snapshot's directory with a backslash, which the
	// kernel reads as the directory.
	overlayInjector := adjuster{ns: "injected", adjust: func(adj *api.ContainerAdjustment) {
		adj.AddMount(&api.Mount{Destination: "/injected", Source: "overlay", Type: "overlay", Options: []string{"ro", "lowerdir=" + lower}})
	}}
	defer e.plugIn(overlayInjector, "overlayinjector", "91")()
	pod, cfg := e.pod("injected")
	id, err := e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the mount another plugin added was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, "the mount at /injected", "snapshot")
}
