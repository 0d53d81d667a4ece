package policysource

import (
	"errors"
	"testing"

	"github.com/signgate/signgate/config"
)

const rootPEM = "-----BEGIN PUBLIC KEY-----\nROOT\n-----END PUBLIC KEY-----\n"
const tenantPEM = "-----BEGIN PUBLIC KEY-----\nTENANT\n-----END PUBLIC KEY-----\n"

// A root key whose name holds a dot was overwritten by a tenant's key named
// after the delegation: the root's floor policy then trusts the tenant's key.
func TestTenantKeyCannotReplaceRootKey(t *testing.T) {
	root, err := config.ParseFragment("root", []byte(`
serial = 1
[keys."team-a.release"]
pem = """`+rootPEM+`"""
[keys.team-a-signer]
pem = """`+rootPEM+`"""
[delegations.team-a]
reference = "reg.example/policies/team-a:latest"
namespaces = ["team-a"]
scopes = ["reg.example/team-a/**"]
keys = ["team-a-signer"]
[[policy]]
name = "platform"
floor = true
scopes = ["reg.example/platform/**"]
[policy.cosign]
keys = ["team-a.release"]
`))
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := config.ParseFragment("tenant", []byte(`
serial = 1
[keys.release]
pem = """`+tenantPEM+`"""
`))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(root, map[string]*config.Fragment{"team-a": tenant})
	var oe *OverreachError
	if errors.As(err, &oe) && oe.Delegation == "team-a" {
		return // refused, naming the tenant
	}
	if err != nil {
		t.Fatalf("refused, but not as team-a's overreach: %v", err)
	}
	if merged.Keys["team-a.release"].PEM == tenantPEM {
		t.Errorf("the tenant's key replaced the root's key %q, which the root's floor policy %q trusts for every namespace", "team-a.release", merged.Policy[0].Name)
	}
}

// Two delegations "a" and "a.b": tenant "a"'s key "b.k" and tenant "a.b"'s
// key "k" are both "a.b.k"; the later (sorted) one, "a.b", silently wins,
// so tenant "a.b" decides which key tenant "a"'s policies trust.
func TestTenantKeysCannotCollideAcrossDelegations(t *testing.T) {
	root, err := config.ParseFragment("root", []byte(`
serial = 1
[keys.s]
pem = """`+rootPEM+`"""
[delegations.a]
reference = "reg.example/policies/a:latest"
namespaces = ["ns-a"]
scopes = ["reg.example/a/**"]
keys = ["s"]
[delegations."a.b"]
reference = "reg.example/policies/ab:latest"
namespaces = ["ns-ab"]
scopes = ["reg.example/ab/**"]
keys = ["s"]
`))
	if err != nil {
		t.Fatal(err)
	}
	victim, _ := config.ParseFragment("a", []byte(`
serial = 1
[keys."b.k"]
pem = """`+rootPEM+`"""
[[policy]]
name = "a"
namespaces = ["ns-a"]
scopes = ["reg.example/a/**"]
[policy.cosign]
keys = ["b.k"]
`))
	attacker, _ := config.ParseFragment("ab", []byte(`
serial = 1
[keys.k]
pem = """`+tenantPEM+`"""
`))
	merged, err := Merge(root, map[string]*config.Fragment{"a": victim, "a.b": attacker})
	if err != nil {
		return // refused: a dot in a delegation or tenant key name is ambiguous
	}
	if merged.Keys["a.b.k"].PEM == tenantPEM {
		t.Errorf("tenant a.b's key replaced tenant a's key a.b.k, which tenant a's policy %q trusts", merged.Policy[0].Name)
	}
}
