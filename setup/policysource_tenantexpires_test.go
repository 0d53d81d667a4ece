package setup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"
)

// A kept tenant's fragment past its signed expires is dropped at start,
// named: a restart must not put back what a refresh would drop. The root
// and the other tenants stay in force, and the dropped delegation denies
// what it delegates.
func TestKeptExpiredTenantIsDroppedAtStart(t *testing.T) {
	path, state := sourcedConfig(t, "")
	expired := tenantFrag("b", "sha256:b", "ns-b", "registry.example/b/**")
	expired.Body = strings.Replace(expired.Body, "serial = 1\n", "serial = 1\nexpires = "+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)+"\n", 1)
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: tenantRoot(t), Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{"a": tenantFrag("a", "sha256:a", "ns-a", "registry.example/a/**"), "b": expired}}
	c := keepAndLoad(t, path, state, k)
	if c.Source.Kept == nil {
		t.Fatalf("an expired tenant set the root aside: %v", c.Source.KeptError)
	}
	if got := strings.Join(policyNames(c), ","); got != "system,a/apps,b/no-fragment-in-force" {
		t.Errorf("policies in force: %s, want system,a/apps,b/no-fragment-in-force", got)
	}
	if c.Source.TenantsError == nil || !strings.Contains(c.Source.TenantsError.Error(), `delegation "b"`) || !strings.Contains(c.Source.TenantsError.Error(), "expired") {
		t.Errorf("the expired fragment is not named: %v", c.Source.TenantsError)
	}
	if _, ok := c.Source.Kept.Tenants["b"]; ok {
		t.Error("the expired fragment is still kept")
	}
}

// A kept tenant's fragment past its expires, dropped at start, leaves its
// delegation denying what it delegates: the root's audit catch-all, which
// would admit an unsigned image, governs only the other namespaces.
func TestKeptExpiredTenantDeniesUnderACatchAll(t *testing.T) {
	path, state := sourcedConfig(t, "")
	root := tenantRoot(t) + "[[policy]]\nname = \"catch-all\"\nscopes = [\"**\"]\nmode = \"audit\"\n[policy.cosign]\nkeys = [\"s\"]\n"
	expired := tenantFrag("b", "sha256:b", "ns-b", "registry.example/b/**")
	expired.Body = strings.Replace(expired.Body, "serial = 1\n", "serial = 1\nexpires = "+time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)+"\n", 1)
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: root, Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{"b": expired}}
	c := keepAndLoad(t, path, state, k)
	if c.Source.Kept == nil {
		t.Fatalf("the root is not in force: %v", c.Source.KeptError)
	}
	if p := c.Policies.Match("registry.example/b/app", "ns-b"); p == nil || p.Name != "b/no-fragment-in-force" || p.Mode != verify.DenyMode || !strings.Contains(p.Reason, `delegation "b"`) || !strings.Contains(p.Reason, "expired at") {
		t.Errorf("b's image in ns-b, its fragment expired: %+v", p)
	}
	// Delegation a never had a fragment: denied too.
	if p := c.Policies.Match("registry.example/a/app", "ns-a"); p == nil || p.Mode != verify.DenyMode {
		t.Errorf("a's image in ns-a, no fragment ever: %+v", p)
	}
	if p := c.Policies.Match("registry.example/b/app", "default"); p == nil || p.Name != "catch-all" {
		t.Errorf("b's image in another namespace: %+v", p)
	}
}
