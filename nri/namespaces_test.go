package nri

import (
	"context"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestNamespaceAddedByAnotherPluginIsJudged: a plugin after signgate may
// have the container join a namespace by path (NRI's namespace
// adjustment, which containerd and CRI-O apply): another container's or a
// host process's, where code nobody verified runs beside the container's.
// It is refused, naming the namespace type, its path and the plugin, and so
// is a removal of a namespace the container had; a new namespace, the
// pod's own path restated, and a removal of a type it lacked pass. Before,
// namespace adjustments were not looked at.
func TestNamespaceAddedByAnotherPluginIsJudged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	c := ctr("c-good", "reg.io/good:v1")
	c.Linux = &api.LinuxContainer{Namespaces: []*api.LinuxNamespace{
		{Type: "network", Path: "/var/run/netns/cni-0123"},
		{Type: "ipc", Path: "/proc/77/ns/ipc"},
		{Type: "pid"}, {Type: "mount"},
	}}
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	validate := func(owner string, ns ...*api.LinuxNamespace) error {
		adj := &api.ContainerAdjustment{}
		owners := api.NewOwningPlugins()
		for _, n := range ns {
			adj.AddOrReplaceNamespace(n)
			if owner != "" {
				typ, _ := n.IsMarkedForRemoval()
				if err := owners.ClaimNamespace(c.Id, typ, owner); err != nil {
					t.Fatal(err)
				}
			}
		}
		return f.p.ValidateContainerAdjustment(ctx, &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: adj, Owners: owners})
	}
	for _, n := range []*api.LinuxNamespace{
		{Type: "pid", Path: "/proc/4242/ns/pid"},
		{Type: "mount", Path: "/proc/4242/ns/mnt"},
		{Type: "network", Path: "/proc/1/ns/net"},
		{Type: "user", Path: "/proc/4242/ns/user"},
		{Type: "ipc", Path: "/proc/4242/ns/ipc"},
	} {
		err := validate("joiner", n)
		if err == nil || !strings.Contains(err.Error(), "the "+n.Type+" namespace \""+n.Path+"\" added by NRI plugin \"joiner\"") {
			t.Errorf("%v: %v", n, err)
		}
	}
	if err := validate("", &api.LinuxNamespace{Type: "pid", Path: "/proc/4242/ns/pid"}); err == nil || !strings.Contains(err.Error(), "added by another NRI plugin") {
		t.Errorf("a namespace of no known plugin: %v", err)
	}
	for _, ns := range [][]*api.LinuxNamespace{
		{{Type: "network", Path: "/var/run/netns/cni-0123"}, {Type: "ipc", Path: "/proc/77/ns/ipc"}},
		{{Type: "user"}, {Type: "cgroup"}, {Type: "network"}},
		{{Type: api.MarkForRemoval("uts")}},
	} {
		if err := validate("harmless", ns...); err != nil {
			t.Errorf("%v: %v", ns, err)
		}
	}
	// Removing a namespace the container had puts it in the host's: the
	// host's pid namespace shows every process's root, ungated
	// containers' too. Before, a removal always passed.
	if err := validate("hoster", &api.LinuxNamespace{Type: api.MarkForRemoval("pid")}); err == nil || !strings.Contains(err.Error(), "the pid namespace removed by NRI plugin \"hoster\"") {
		t.Errorf("pid namespace removed: %v", err)
	}
}
