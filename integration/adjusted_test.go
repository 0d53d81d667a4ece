package integration

import (
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestMountAddedByAnotherPluginIsJudged: CreateContainer shows signgate
// the container before any later plugin adjusts it; the validator is
// shown the adjustments apart. A snapshot directory another plugin mounts
// into a signed image's container is refused there (containerd 2.2 and
// newer; before, there is no validator and the mount is not seen).
func TestMountAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/injected:v1"
	e.image("signed/injected", "k1")
	src := filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots", "1", "fs")
	// injector adds the mounts a pod asks for (NRI's device-injector reads
	// them from the pod's annotations, which the CRI client chooses): here,
	// a snapshot's directory, for every container of a pod in "injected".
	injector := adjuster{ns: "injected", adjust: func(adj *api.ContainerAdjustment) {
		adj.AddMount(&api.Mount{Destination: "/injected", Source: src, Type: "bind", Options: []string{"rbind", "ro"}})
	}}
	defer e.plugIn(injector, "injector", "90")()
	// Another namespace's pod is not adjusted: its container is admitted.
	pod, cfg := e.pod("default")
	id, err := e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	pod, cfg = e.pod("injected")
	id, err = e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the mount another plugin added was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, "the mount at /injected", "snapshotter")
}
