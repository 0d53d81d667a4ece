package setup

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/trustpath"
	"github.com/signgate/signgate/nri"
)

// hookWarnings: a listed link whose target is not listed, or a program
// signgate cannot see, lets no hook run (nri refuses it); the host may
// change (one config serves nodes with and without a GPU), so it is said,
// not refused.
func (c *Config) hookWarnings() []string {
	var out []string
	for _, prog := range c.Hooks.AllowedPrograms {
		if _, err := trustpath.Resolve(prog); errors.Is(err, fs.ErrNotExist) {
			out = append(out, fmt.Sprintf("hooks.allowed_programs: signgate cannot see %s (%v): a hook running it is refused, for who may change it cannot be told; in a pod, mount the host's directory holding it at the same path", prog, err))
			continue
		}
		if r := nri.HookLinkUnlisted(prog, c.Hooks.AllowedPrograms); r != "" {
			out = append(out, fmt.Sprintf("hooks.allowed_programs: %s is a link to %s, which is not listed: a hook running it is refused until both are", prog, r))
		}
	}
	return out
}

// hookPrograms refuses a [hooks] allowed_programs entry that would let a
// hook run what nri's rules never let it run (an interpreter, a runner, a
// program in a snapshot): listing one would allow nothing, so it is a
// mistake to say, not to keep. So is one someone but root could replace.
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
			continue
		}
		// It runs as root in every container the hook is added to: one
		// another user could replace is refused, as a notation plugin is.
		var u *trustpath.UntrustedError
		switch _, err := trustpath.Resolve(prog); {
		case errors.As(err, &u):
			p.Errorf("hooks.allowed_programs[%d] = %q: %v, so another user could replace it, and it would run as root in every container the hook is added to; make it and its directories root's and writable by no one else", i, prog, u)
		case err != nil && !errors.Is(err, fs.ErrNotExist): // absent: warned of
			p.Errorf("hooks.allowed_programs[%d] = %q: cannot be checked: %v", i, prog, err)
		}
	}
}
