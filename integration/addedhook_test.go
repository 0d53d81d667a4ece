package integration

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// hooker stands for an NRI plugin after signgate that adds an OCI hook
// (as GPU plugins add nvidia-ctk's) to every container of a pod in
// namespace "hooked": here, a program from a snapshot's directory, which
// the runtime would run on the host as root.
type hooker struct{ path string }

func (h hooker) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if pod.GetNamespace() != "hooked" {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	adj.AddHooks(&api.Hooks{CreateRuntime: []*api.Hook{{Path: h.path, Args: []string{h.path}}}})
	return adj, nil, nil
}

// TestHookAddedByAnotherPluginIsJudged: the validator is shown the hooks
// another plugin added, which CreateContainer never saw; one whose
// program lies in a snapshot's directory is refused, naming the plugin
// (containerd 2.2 and newer; before, there is no validator).
func TestHookAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/hooked:v1"
	e.image("signed/hooked", "k1")
	prog := filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots", "1", "fs", "bin", "sh")
	s, err := stub.New(hooker{path: prog}, stub.WithPluginName("hooker"), stub.WithPluginIdx("90"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pod, cfg := e.pod("default")
	id, err := e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	pod, cfg = e.pod("hooked")
	id, err = e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the hook another plugin added was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, "createRuntime hook", `"90-hooker"`, "snapshotter")
}
