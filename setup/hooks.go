package setup

import (
	"slices"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/nri"
)

// hookPrograms refuses a [hooks] allowed_programs entry that would let a
// hook run what nri's rules never let it run (an interpreter, a runner, a
// program in a snapshot): listing one would allow nothing, so it is a
// mistake to say, not to keep.
func hookPrograms(p *config.Problems, cc *config.Config) {
	if cc.File.Hooks == nil {
		return
	}
	for i, prog := range cc.File.Hooks.AllowedPrograms {
		if !slices.Contains(cc.Hooks.AllowedPrograms, prog) {
			continue // config said why
		}
		if why := nri.HookProgramRefused(prog); why != "" {
			p.Errorf("hooks.allowed_programs[%d] = %q: %s", i, prog, why)
		}
	}
}
