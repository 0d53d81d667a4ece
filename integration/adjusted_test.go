package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// injector stands for an NRI plugin after signgate that adds mounts a
// pod asks for (NRI's device-injector reads them from the pod's
// annotations, which the CRI client chooses): here, a snapshot's
// directory, or a symlink to the snapshots, for every container of a pod
// in the namespace that names it.
type injector struct{ sources map[string]string }

// rwNamespace is the pod namespace whose container gets the listed
// directory bound read-write, which signgate refuses.
const rwNamespace = "listed-rw"

func (i injector) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	source, ok := i.sources[pod.GetNamespace()]
	if !ok {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	opts := []string{"rbind", "ro", "rro"}
	if pod.GetNamespace() == rwNamespace {
		opts = []string{"rbind", "rw"}
	}
	adj.AddMount(&api.Mount{Destination: "/injected", Source: source, Type: "bind", Options: opts})
	return adj, nil, nil
}

// TestMountAddedByAnotherPluginIsJudged: CreateContainer shows signgate
// the container before any later plugin adjusts it; the validator is
// shown the adjustments apart. A snapshot directory another plugin mounts
// into a signed image's container is refused there (containerd 2.2 and
// newer; before, there is no validator and the mount is not seen), and so
// is one through a symlink that leads there (a pod's emptyDir can hold
// one), though its spelling names no snapshot. A host directory
// [added_mounts] lists is bound read-only (rbind with ro and rro, which
// runc honours); bound read-write it is refused, and so are one it does
// not list and /.
func TestMountAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/injected:v1"
	e.image("signed/injected", "k1")
	snaps := filepath.Join(e.Dir, "root", "io.containerd.snapshotter.v1.overlayfs", "snapshots")
	link := filepath.Join(t.TempDir(), "s")
	if err := os.Symlink(snaps, link); err != nil {
		t.Fatal(err)
	}
	listed := filepath.Join(e.ListedMounts(), "lib")
	if err := os.MkdirAll(listed, 0o755); err != nil {
		t.Fatal(err)
	}
	unlisted := t.TempDir()
	sources := map[string]string{"injected": filepath.Join(snaps, "1", "fs"), "linked": filepath.Join(link, "1", "fs"),
		"listed": listed, rwNamespace: listed, "unlisted": unlisted, "root": "/"}
	s, err := stub.New(injector{sources: sources}, stub.WithPluginName("injector"), stub.WithPluginIdx("90"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
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
	pod, cfg = e.pod("linked")
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "the mount at /injected", link, "io.containerd.snapshotter")
	// A host directory [added_mounts] lists is bound; one it does not, or
	// / (above every image store), is refused naming the plugin and key.
	pod, cfg = e.pod("listed")
	id, err = e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	// The same directory bound read-write: a pod could replace what the
	// host runs from it.
	pod, cfg = e.pod(rwNamespace)
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "the mount at /injected", `NRI plugin "90-injector"`, listed, `without "ro"`)
	pod, cfg = e.pod("unlisted")
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "the mount at /injected", `NRI plugin "90-injector"`, unlisted, "[added_mounts] allowed_sources does not list")
	pod, cfg = e.pod("root")
	_, err = e.Create(pod, cfg, ref)
	mustDeny(t, err, "the mount at /injected", "where images' and containers' files are kept")
}
