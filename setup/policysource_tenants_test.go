package setup_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// tenantRoot is a root fragment delegating ns-a and ns-b.
func tenantRoot(t *testing.T) string {
	t.Helper()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	return rootDelegating(s.PublicPEM(), "b", "registry.example/p/b:1", "ns-b", "registry.example/b/**")
}

// rootDelegating is a root fragment signed for by pem: a floor policy for
// registry.k8s.io, delegation a (ns-a, registry.example/a/**), and
// delegation second (a TOML key, quoted where it must be) with its
// reference, namespace and scope.
func rootDelegating(pem, second, ref, ns, scope string) string {
	return fmt.Sprintf(`serial = 1
expires = %s
[keys.s]
pem = '''
%s'''
[delegations.a]
reference = "registry.example/p/a:1"
namespaces = ["ns-a"]
scopes = ["registry.example/a/**"]
keys = ["s"]
[delegations.%s]
reference = %q
namespaces = [%q]
scopes = [%q]
keys = ["s"]
[[policy]]
name = "system"
floor = true
scopes = ["registry.k8s.io/**"]
[policy.cosign]
keys = ["s"]
`, policytest.Soon, pem, second, ref, ns, scope)
}

// keepAndLoad writes k as the policy kept in state and loads the config
// at path.
func keepAndLoad(t *testing.T, path, state string, k *policysource.Kept) *setup.Config {
	t.Helper()
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tenantFrag(n, digest, ns, scope string) *policysource.Tenant {
	body := fmt.Sprintf("serial = 1\n[[policy]]\nname = \"apps\"\nnamespaces = [%q]\nscopes = [%q]\nmode = \"allow\"\n", ns, scope)
	return &policysource.Tenant{Reference: "registry.example/p/" + n + ":1", Digest: digest, Serial: 1, Body: body}
}

func policyNames(c *setup.Config) []string {
	var out []string
	for _, p := range c.Policies {
		out = append(out, p.Name)
	}
	return out
}

// A kept tenant's fragment that does not compile with the root and the
// other tenants sets only itself aside, named: the root's policies (its
// floors included) and the other tenants' stay in force, and its
// delegation denies what it delegates. It used to set the whole kept
// policy aside, so the node denied every image, at every restart too, and
// running containers were stopped.
func TestKeptTenantProblemNeverSetsTheRootAside(t *testing.T) {
	path, state := sourcedConfig(t, "")
	root := tenantRoot(t)
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: root, Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{
			"a": tenantFrag("a", "sha256:a", "ns-a", "registry.example/a/**"),
			"b": tenantFrag("b", "sha256:b", "ns-a", "registry.example/b/**"), // not b's namespace
		}}
	c := keepAndLoad(t, path, state, k)
	if c.Source.Kept == nil {
		t.Fatalf("one tenant's fragment set the whole root policy aside (every image denied, floors included): %v", c.Source.KeptError)
	}
	if got := strings.Join(policyNames(c), ","); got != "system,a/apps,b/no-fragment-in-force" {
		t.Errorf("policies in force: %s, want system,a/apps,b/no-fragment-in-force", got)
	}
	if c.Source.TenantsError == nil || !strings.Contains(c.Source.TenantsError.Error(), `delegation "b"`) {
		t.Errorf("the set-aside fragment is not named: %v", c.Source.TenantsError)
	}
	if _, ok := c.Source.Kept.Tenants["b"]; ok {
		t.Error("the set-aside fragment is still kept")
	}
}

// On a refresh, the full set (root + all tenants) is compiled before it is
// kept: a changed fragment that does not fit falls back to its previous
// one, and the tenants already in force stay.
func TestFitTenantsKeepsThePreviousFragment(t *testing.T) {
	path, _ := sourcedConfig(t, "")
	local, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	root := []byte(tenantRoot(t))
	oldB := tenantFrag("b", "sha256:b1", "ns-b", "registry.example/b/**")
	prev := map[string]*policysource.Tenant{"a": tenantFrag("a", "sha256:a", "ns-a", "registry.example/a/**"), "b": oldB}
	next := map[string]*policysource.Tenant{"a": prev["a"], "b": tenantFrag("b", "sha256:b2", "ns-a", "registry.example/b/**")}
	c, in, dropped, err := setup.FitTenants(local, root, next, prev, "sha256:root")
	if err != nil {
		t.Fatal(err)
	}
	if in["b"] != oldB || in["a"] != prev["a"] {
		t.Errorf("tenants kept: %v, want a and b's previous fragment", in)
	}
	if dropped["b"] == nil || !strings.Contains(dropped["b"].Error(), "sha256:b2") {
		t.Errorf("the refused fragment is not named: %v", dropped)
	}
	if got := strings.Join(policyNames(c), ","); got != "system,a/apps,b/apps" {
		t.Errorf("policies in force: %s", got)
	}
	// A root that fails alone is the only error.
	if _, _, _, err := setup.FitTenants(local, []byte("serial = 1\n[delegations.\"x.y\"]\nreference = \"r/p/x:1\"\n"), nil, nil, "sha256:bad"); err == nil {
		t.Error("a malformed root was not refused")
	}
}
