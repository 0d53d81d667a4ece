package crio

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// binder adds a bind mount of sources[namespace] to every container of a
// pod in that namespace, as NRI's device-injector does from a pod's
// annotations.
type binder struct{ sources map[string]string }

func (b binder) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	src, ok := b.sources[pod.GetNamespace()]
	if !ok {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	opts := []string{"bind", "ro"}
	if pod.GetNamespace() != "listed" {
		opts = []string{"rbind", "rw"} // refused before its options are read
	}
	adj.AddMount(&api.Mount{Destination: "/injected", Source: src, Type: "bind", Options: opts})
	return adj, nil, nil
}

// TestCRIOAddedBindNeedsListing: on CRI-O, a host directory another plugin
// binds is mounted only if [added_mounts] lists it; one it does not list
// is refused naming the plugin and the key, and a directory above CRI-O's
// storage root (as signgate's config names it) is refused though nothing
// in its spelling names the storage.
func TestCRIOAddedBindNeedsListing(t *testing.T) {
	e := need(t)
	if !e.CRIOHasValidator() {
		t.Logf("CRI-O %s has no NRI validator: mounts other plugins add are not judged", e.CRIOVersion())
		return
	}
	ref := e.Registry + "/signed/crio-bound:v1"
	image(t, e, "signed/crio-bound", "k1")
	listed := filepath.Join(e.ListedMounts(), "crio")
	if err := os.MkdirAll(listed, 0o755); err != nil {
		t.Fatal(err)
	}
	root, _ := e.CRIOStorage()
	unlisted := t.TempDir()
	sources := map[string]string{"listed": listed, "unlisted": unlisted, "above": filepath.Dir(root)}
	s, err := stub.New(binder{sources: sources}, stub.WithPluginName("binder"), stub.WithPluginIdx("90"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	create := func(ns string) error {
		t.Helper()
		id, cfg, err := e.Pod(ns)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Create(id, cfg, ref)
		return err
	}
	if err := create("listed"); err != nil {
		t.Fatalf("a listed directory bound: %v", err)
	}
	mustDeny(t, create("unlisted"), "the mount at /injected", `"90-binder"`, unlisted, "[added_mounts] allowed_sources does not list")
	mustDeny(t, create("above"), "the mount at /injected", `"90-binder"`, root, "where images' and containers' files are kept")
}
