package policysource

import (
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// A delegation without a fragment in force takes its tenant's place with
// a policy denying what it delegates: after the root's floors, before the
// root's other policies, so its namespaces never fall to a catch-all. A
// delegation whose fragment is in force gets the tenant's policies.
func TestMergeDeniesADelegationWithoutFragment(t *testing.T) {
	root, err := config.ParseFragment("root", []byte(`
serial = 1
[keys.s]
pem = """`+rootPEM+`"""
[delegations.team-a]
reference = "reg.example/policies/team-a:latest"
namespaces = ["team-a", "team-a-staging"]
scopes = ["reg.example/team-a/**"]
keys = ["s"]
[delegations.team-b]
reference = "reg.example/policies/team-b:latest"
namespaces = ["team-b"]
scopes = ["reg.example/team-b/**"]
keys = ["s"]
[[policy]]
name = "catch-all"
scopes = ["**"]
mode = "audit"
[policy.cosign]
keys = ["s"]
[[policy]]
name = "platform"
floor = true
scopes = ["reg.example/platform/**"]
[policy.cosign]
keys = ["s"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := config.ParseFragment("tenant", []byte(`
serial = 1
[[policy]]
name = "apps"
namespaces = ["team-b"]
scopes = ["reg.example/team-b/**"]
mode = "allow"
`))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(root, map[string]*config.Fragment{"team-b": tenant})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range merged.Policy {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "platform,team-a/no-fragment-in-force,team-b/apps,catch-all" {
		t.Fatalf("policies in order: %s", got)
	}
	p := merged.Policy[1]
	if p.Mode != "deny" || strings.Join(p.Namespaces, ",") != "team-a,team-a-staging" || strings.Join(p.Scopes, ",") != "reg.example/team-a/**" ||
		p.Cosign != nil || !strings.Contains(p.Reason, `delegation "team-a"`) || !strings.Contains(p.Reason, "no fragment") {
		t.Errorf("team-a without a fragment: %+v", p)
	}
	// A root policy with that name is refused, never silently shadowed.
	root.Policy = append(root.Policy, config.PolicySection{Name: "team-a/no-fragment-in-force", Scopes: []string{"**"}, Mode: "allow"})
	if _, err := Merge(root, nil); err == nil || !strings.Contains(err.Error(), "delegations.team-a") {
		t.Errorf("a root policy named as team-a's denial: %v", err)
	}
}
