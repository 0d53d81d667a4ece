package setup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/policysource"
)

// A kept tenant's fragment past its signed expires is dropped at start,
// named: a restart must not put back what a refresh would drop. The root
// and the other tenants stay in force.
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
	if got := strings.Join(policyNames(c), ","); got != "system,a/apps" {
		t.Errorf("policies in force: %s, want system,a/apps", got)
	}
	if c.Source.TenantsError == nil || !strings.Contains(c.Source.TenantsError.Error(), `delegation "b"`) || !strings.Contains(c.Source.TenantsError.Error(), "expired") {
		t.Errorf("the expired fragment is not named: %v", c.Source.TenantsError)
	}
	if _, ok := c.Source.Kept.Tenants["b"]; ok {
		t.Error("the expired fragment is still kept")
	}
}
