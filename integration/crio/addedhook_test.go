package crio

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// hooker adds an OCI hook to every container of a pod in namespace "hooked",
// as a plugin after signgate may: here, a program from CRI-O's layers.
type hooker struct{ path string }

func (h hooker) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if pod.GetNamespace() != "hooked" {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	adj.AddHooks(&api.Hooks{Prestart: []*api.Hook{{Path: h.path, Args: []string{h.path}}}})
	return adj, nil, nil
}

// TestCRIOHookFromLayersIsRefused: on CRI-O, the validator is shown the
// hooks another plugin added; one whose program lies in CRI-O's image
// layers (which the runtime would run on the host as root) is refused,
// naming the plugin. Other pods' containers are not adjusted and run.
func TestCRIOHookFromLayersIsRefused(t *testing.T) {
	e := need(t)
	if !e.CRIOHasValidator() {
		t.Logf("CRI-O %s has no NRI validator: hooks other plugins add are not judged", e.CRIOVersion())
		return
	}
	ref := e.Registry + "/signed/crio-hooked:v1"
	image(t, e, "signed/crio-hooked", "k1")
	root, _ := e.CRIOStorage()
	s, err := stub.New(hooker{path: filepath.Join(root, "overlay", "0123abcd", "diff", "bin", "sh")}, stub.WithPluginName("hooker"), stub.WithPluginIdx("90"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	podID, podCfg := pod(t, e)
	if _, err := e.Create(podID, podCfg, ref); err != nil {
		t.Fatalf("a container the plugin does not adjust: %v", err)
	}
	hookedID, hookedCfg, err := e.Pod("hooked")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(hookedID, hookedCfg, ref)
	mustDeny(t, err, "prestart hook", `"90-hooker"`, "CRI-O's image layers")
}
