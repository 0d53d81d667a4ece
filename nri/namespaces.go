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
// it. What cannot change what runs is let through: a namespace without a
// path (a new one, only more apart), the path the container already had
// for that type (the pod's own, as the runtime set it), and a removal
// (the host's namespace of that type: a privilege the pod spec also
// grants, which admission control judges, not a container's contents).
// owners names the plugin, where NRI says.
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
		if removal || n.GetPath() == "" {
			continue
		}
		if p, ok := had[typ]; ok && p == n.GetPath() {
			continue
		}
		by := "another NRI plugin"
		if owners != nil && owners.Owners != nil {
			if o, ok := owners.NamespaceOwner(ctr.GetId(), typ); ok && o != "" {
				by = fmt.Sprintf("NRI plugin %q", o)
			}
		}
		return fmt.Errorf("the %s namespace %q added by %s would join the container to a namespace signgate did not see made (another container's or a host process's): code nobody verified would run beside it", typ, n.GetPath(), by)
	}
	return nil
}
