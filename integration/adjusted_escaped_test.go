package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// overlayInjector stands for a plugin after signgate that adds the mount
// a pod's annotations ask for, type and options included (as NRI's
// device-injector does): an overlay whose lowerdir spells a snapshot's
// directory with a backslash, which the kernel reads as the directory.
type overlayInjector struct{ lower string }

func (i overlayInjector) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if pod.GetNamespace() != "injected" {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	adj.AddMount(&api.Mount{Destination: "/injected", Source: "overlay", Type: "overlay", Options: []string{"ro", "lowerdir=" + i.lower}})
	return adj, nil, nil
}

// TestEscapedOverlayAddedByAnotherPluginIsJudged: the validator reads an
// overlay's options as the kernel does (containerd 2.2 and newer).
func TestEscapedOverlayAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/escaped:v1"
	e.image("signed/escaped", "k1")
	snap := strings.Replace(filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots"), "snapshotter", `snap\shotter`, 1)
	lower := snap + "/1/fs:" + snap + "/2/fs"
	s, err := stub.New(overlayInjector{lower: lower}, stub.WithPluginName("overlayinjector"), stub.WithPluginIdx("91"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pod, cfg := e.pod("injected")
	id, err := e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the mount another plugin added was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, "the mount at /injected", "snapshot")
}
