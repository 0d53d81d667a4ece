package integration

import (
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestNamespaceAddedByAnotherPluginIsJudged: containerd applies the
// namespaces another plugin sets (NRI's runtime-tools generator); the
// validator is shown them, and a namespace joined by a path the container
// did not have is refused, naming its type and the plugin (containerd 2.2
// and newer; before, there is no validator).
func TestNamespaceAddedByAnotherPluginIsJudged(t *testing.T) {
	e := need(t)
	ref := e.Registry + "/signed/joined:v1"
	e.image("signed/joined", "k1")
	// joiner has every container of a pod in namespace "joined" join a
	// process's namespace by path: here the host's pid namespace (init's),
	// where the host's programs, which nobody verified, could ptrace the
	// container's.
	joiner := adjuster{ns: "joined", adjust: func(adj *api.ContainerAdjustment) {
		adj.AddOrReplaceNamespace(&api.LinuxNamespace{Type: "pid", Path: "/proc/1/ns/pid"})
	}}
	defer e.plugIn(joiner, "joiner", "90")()
	pod, cfg := e.pod("default")
	id, err := e.Create(pod, cfg, ref)
	mustAllow(t, id, err)
	pod, cfg = e.pod("joined")
	id, err = e.Create(pod, cfg, ref)
	if !e.Containerd.AtLeast(2, 2) {
		t.Logf("containerd %s has no NRI validator: the namespace another plugin set was not judged (%s, %v)", e.Containerd.Version, id, err)
		return
	}
	mustDeny(t, err, `the pid namespace "/proc/1/ns/pid"`, `"90-joiner"`)
}
