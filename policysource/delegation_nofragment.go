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
// and dropped. Which it is is not known here: setup says it in the
// policy's reason (NoFragmentReason) from what the refresh recorded, and
// the log and doctor say it too; the verdict names the delegation.
func NoFragmentPolicy(name string, d config.DelegationSection) config.PolicySection {
	return config.PolicySection{
		Name:       name + NoFragmentSuffix,
		Mode:       "deny",
		Namespaces: d.Namespaces,
		Scopes:     d.Scopes,
		Reason:     NoFragmentReason(name, d, "never published, refused, or expired: the log and signgate doctor say which"),
	}
}

// NoFragmentReason is the denial of the policy standing in for
// delegation name's fragment, why saying why it has none in force.
func NoFragmentReason(name string, d config.DelegationSection, why string) string {
	return fmt.Sprintf("delegation %q (namespaces %s) has no fragment from %s in force (%s): the images it delegates are denied until its tenant publishes one that verifies",
		name, strings.Join(d.Namespaces, ", "), d.Reference, why)
}
