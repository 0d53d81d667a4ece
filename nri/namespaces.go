package nri

import (
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

// addedNamespaces refuses a Linux namespace another plugin has the
// container join by path (NRI's LinuxContainerAdjustment.Namespaces, which
// containerd and CRI-O apply to the OCI spec through NRI's runtime-tools
// generator): /proc/<pid>/ns/... of a container signgate never admitted,
// or of a host process, puts the container's processes beside code nobody
// verified (a shared pid or user namespace lets it ptrace them; a mount
// namespace is that process's view of files). CreateContainer never saw
// it. A removal of a namespace the container had puts it in the host's
// namespace of that type (the host's pid namespace shows every process's
// /proc/<pid>/root, ungated containers' included), which neither the pod
// spec nor admission control asked for: refused too. What cannot change
// what runs is let through: a namespace without a path (a new one, only
// more apart), the path the container already had for that type (the
// pod's own, as the runtime set it), and a removal of a type it did not
// have. owners names the plugin, where NRI says.
func addedNamespaces(ctr *api.Container, adj *api.ContainerAdjustment, owners *api.OwningPlugins) error {
	had := map[string]string{}
	for _, n := range ctr.GetLinux().GetNamespaces() {
		had[n.GetType()] = n.GetPath()
	}
	for _, n := range adj.GetLinux().GetNamespaces() {
		if n == nil {
			continue
		}
		typ, removal := n.IsMarkedForRemoval()
		p, ok := had[typ]
		by := "another NRI plugin"
		if owners != nil && owners.Owners != nil {
			if o, ok := owners.NamespaceOwner(ctr.GetId(), typ); ok && o != "" {
				by = fmt.Sprintf("NRI plugin %q", o)
			}
		}
		switch {
		case removal && ok:
			return fmt.Errorf("the %s namespace removed by %s would put the container in the host's %s namespace, which its pod did not ask for: code nobody verified runs there", typ, by, typ)
		case removal, n.GetPath() == "", ok && p == n.GetPath():
			continue
		}
		return fmt.Errorf("the %s namespace %q added by %s would join the container to a namespace signgate did not see made (another container's or a host process's): code nobody verified would run beside it", typ, n.GetPath(), by)
	}
	return nil
}
