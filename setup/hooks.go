package setup

import (
	"fmt"
	"slices"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/nri"
)

// hookWarnings: a listed link whose target is not listed lets no hook run
// (nri refuses it); the host may change, so it is said, not refused.
func (c *Config) hookWarnings() []string {
	var out []string
	for _, prog := range c.Hooks.AllowedPrograms {
		if r := nri.HookLinkUnlisted(prog, c.Hooks.AllowedPrograms); r != "" {
			out = append(out, fmt.Sprintf("hooks.allowed_programs: %s is a link to %s, which is not listed: a hook running it is refused until both are", prog, r))
		}
	}
	return out
}

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
