package setup

import (
	"fmt"
	"strings"
	"time"

	"github.com/signgate/signgate/verify"
)

// Warnings are what a valid config should still tell its operator loudly:
// that no policy enforces anything, or that a placeholder key is in use.
// check-config prints them; the daemon logs them at start and reload and
// exports signgate_enforcing_policies.
func (c *Config) Warnings() []string {
	out := c.sourceWarnings()
	if c.EnforcingPolicies() == 0 && (c.Source == nil || c.Source.Kept != nil) {
		names := make([]string, len(c.Policies))
		for i, p := range c.Policies {
			names[i] = fmt.Sprintf("%s (%s)", p.Name, p.Mode)
		}
		out = append(out, fmt.Sprintf("no policy enforces: every image is admitted, whatever its signatures (policies: %s); set mode = \"enforce\" on at least one", strings.Join(names, ", ")))
	}
	out = append(out, c.refused...)
	out = append(out, c.hookWarnings()...)
	out = append(out, c.addedMountWarnings()...)
	if n := len(c.File.Delegations); n > 0 {
		// Ignored, never trusted: their namespaces fall to this file's policies.
		out = append(out, fmt.Sprintf("delegations: %d delegation(s) here take effect only in a policy artifact built from this file (signgate policy build --from); a node running this file delegates nothing", n))
	}
	for _, src := range c.TUF {
		tr := c.TrustRoots[src.Name]
		if tr.Material == nil {
			out = append(out, fmt.Sprintf("trust_roots.%s has not been fetched from %s yet: identities under it verify nothing until it is", src.Name, src.Mirror))
		} else if why := tr.Stale(time.Now()); why != "" {
			out = append(out, fmt.Sprintf("trust_roots.%s: %s; identities under it verify nothing until %s vouches for it again", src.Name, why, src.Mirror))
		}
	}
	for _, n := range c.placeholders {
		out = append(out, fmt.Sprintf("keys.%s is the packaged placeholder key, whose private half was discarded, so no image is signed by it: replace it with your own key", n))
	}
	return out
}

// EnforcingPolicies counts the policies in mode "enforce".
func (c *Config) EnforcingPolicies() int {
	n := 0
	for _, p := range c.Policies {
		if p.Mode == verify.Enforce {
			n++
		}
	}
	return n
}
