package setup_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// Two tenants whose names together collide ("a" + "b/x" and "a/b" + "x"
// are both policy "a/b/x") used to pass each alone and, kept together,
// set the whole kept policy aside: the node denied every image, at every
// restart too. Now a delegation named with "/" is refused for its tenant
// alone, and the root's policies and tenant a's stay in force.
func TestTwoTenantsTogetherNeverBrickTheNode(t *testing.T) {
	path, state := sourcedConfig(t, "")
	s, _ := sigtest.NewSigner()
	pem := s.PublicPEM()
	root := fmt.Sprintf(`serial = 1
expires = 2100-01-01T00:00:00Z
[keys.s]
pem = '''
%s'''
[delegations.a]
reference = "registry.example/p/a:1"
namespaces = ["ns-a"]
scopes = ["registry.example/a/**"]
keys = ["s"]
[delegations."a/b"]
reference = "registry.example/p/ab:1"
namespaces = ["ns-ab"]
scopes = ["registry.example/ab/**"]
keys = ["s"]
[[policy]]
name = "system"
floor = true
scopes = ["registry.k8s.io/**"]
[policy.cosign]
keys = ["s"]
`, pem)
	tenant := func(name, scope string) *policysource.Tenant {
		body := fmt.Sprintf("serial = 1\n[[policy]]\nname = %q\nnamespaces = [%q]\nscopes = [%q]\nmode = \"allow\"\n", name, map[string]string{"registry.example/a/**": "ns-a", "registry.example/ab/**": "ns-ab"}[scope], scope)
		return &policysource.Tenant{Digest: "sha256:" + name, Serial: 1, Body: body}
	}
	ta := tenant("b/x", "registry.example/a/**")
	tab := tenant("x", "registry.example/ab/**")
	ta.Reference, tab.Reference = "registry.example/p/a:1", "registry.example/p/ab:1"
	local, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setup.ComposeTenants(local, []byte(root), map[string]*policysource.Tenant{"a/b": tab}, "sha256:root"); err == nil {
		t.Error("tenant a/b, whose delegation name holds a /, was taken")
	}
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: root, Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{"a": ta, "a/b": tab}}
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept == nil {
		t.Fatalf("two tenants together set the whole root policy aside (every image denied, floors included): %v", c.Source.KeptError)
	}
	if got := strings.Join(policyNames(c), ","); got != "system,a/b/x" {
		t.Errorf("policies in force: %s, want the root's and tenant a's", got)
	}
}
