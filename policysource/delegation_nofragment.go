package policysource

import (
	"fmt"
	"strings"

	"github.com/signgate/signgate/config"
)

// NoFragmentSuffix ends the name of the policy that stands in for a
// delegation with no fragment in force: "team-a/no-fragment-in-force".
const NoFragmentSuffix = "/no-fragment-in-force"

// NoFragmentPolicy denies the images delegation name hands over, in its
// namespaces, while its tenant has no fragment in force: never published,
// refused (unsigned, overreaching, not fitting the others), or expired
// and dropped. Why is in the log, doctor and the warnings; the verdict
// names the delegation.
func NoFragmentPolicy(name string, d config.DelegationSection) config.PolicySection {
	return config.PolicySection{
		Name:       name + NoFragmentSuffix,
		Mode:       "deny",
		Namespaces: d.Namespaces,
		Scopes:     d.Scopes,
		Reason: fmt.Sprintf("delegation %q (namespaces %s) has no fragment from %s in force (never published, refused, or expired: the log and signgate doctor say which): the images it delegates are denied until its tenant publishes one that verifies",
			name, strings.Join(d.Namespaces, ", "), d.Reference),
	}
}
