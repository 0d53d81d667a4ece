package nri

import (
	"github.com/containerd/nri/pkg/api"
	"google.golang.org/protobuf/proto"
)

// adjusted is the container as the runtime will create it, as far as what
// it mounts: the validator is shown the pristine container and, apart, the
// adjustments every plugin made. A plugin after signgate may add mounts
// (NRI's device-injector adds those a pod's annotations name, which the
// CRI client chooses), and CreateContainer never saw them; each is judged
// as the container's own, and more (addedmounts.go: what its symlinks
// lead to, the directories containers write, disks). A mount marked for removal is left in: judging
// it again is only stricter. Without added mounts, ctr itself is returned,
// so CreateContainer's admission still matches.
func adjusted(ctr *api.Container, adj *api.ContainerAdjustment) *api.Container {
	var added []*api.Mount
	for _, m := range adj.GetMounts() {
		if _, removal := m.IsMarkedForRemoval(); !removal {
			added = append(added, m)
		}
	}
	if len(added) == 0 {
		return ctr
	}
	out := proto.Clone(ctr).(*api.Container)
	out.Mounts = append(out.Mounts, added...)
	return out
}
