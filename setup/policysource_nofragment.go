package setup

import (
	"fmt"

	"github.com/signgate/signgate/policysource"
)

// explainNoFragment says, in the verdicts of the policies denying what a
// delegation hands over, why its kept fragment was dropped at start
// (expired, or not compiling with the others): the generic reason
// policysource gives cannot tell.
func explainNoFragment(c *Config, dropped map[string]error) {
	for n, err := range dropped {
		for i := range c.Policies {
			if p := &c.Policies[i]; p.Name == n+policysource.NoFragmentSuffix {
				p.Reason = fmt.Sprintf("%v; the images it delegates are denied until its tenant publishes one that verifies", err)
			}
		}
	}
}
