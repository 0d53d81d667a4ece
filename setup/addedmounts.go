package setup

import (
	"slices"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/nri"
)

// addedMountSources refuses an [added_mounts] allowed_sources entry that
// nri never lets a mount bind (a link into the runtimes' state, a
// directory containers write): listing one allows nothing, so it is a
// mistake to say, not to keep.
func addedMountSources(p *config.Problems, cc *config.Config) {
	if cc.File.AddedMounts == nil {
		return
	}
	for i, dir := range cc.File.AddedMounts.AllowedSources {
		if !slices.Contains(cc.AddedMounts.AllowedSources, dir) {
			continue // config said why
		}
		if why := nri.MountSourceRefused(dir, cc.AddedMounts.StateDirs); why != "" {
			p.Errorf("added_mounts.allowed_sources[%d] = %q: %s", i, dir, why)
		}
	}
}
