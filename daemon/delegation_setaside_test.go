package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
)

// A kept policy set aside at start keeps its serial as the floor
// (TestSetAsidePolicysSerialStillBounds), and its tenants' fragments
// theirs: the next root policy taken must not let a tenant's registry
// replay an older fragment the tenant once signed. The set-aside
// fragments only bound: none is in force unless verified again.
func TestSetAsidePolicysTenantSerialsStillBound(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	d, state := sourcedDaemon(t, fmt.Sprintf("reference = %q", rootRef), root.PublicPEM())
	body := policytest.TeamARoot(root.PublicPEM(), tenant.PublicPEM(), tenantRef, host.host, "")
	tenantBody := func(serial int) string {
		return f.fragment(serial, "expires = "+policytest.Soon+"\n")
	}
	old := &policysource.Kept{Reference: rootRef, Digest: "sha256:one", Serial: 1, Verified: time.Now(), Signers: d.config().Source.Signers,
		Body:    strings.Replace(body, "expires = "+policytest.Soon+"\n", "", 1),
		Tenants: map[string]*policysource.Tenant{"team-a": {Reference: tenantRef, Digest: "sha256:five", Serial: 5, Body: tenantBody(5)}}}
	if err := policysource.WriteKept(state, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	d = mustNew(t, d.config().Path)
	if d.config().Source.Kept != nil {
		t.Fatal("a kept policy without expires is in force")
	}
	publishBody(t, rootRef, strings.Replace(body, "serial = 1\n", "serial = 2\n", 1), root)
	publishBody(t, tenantRef, tenantBody(3), tenant)
	_ = d.RefreshPolicy(t.Context())
	k := d.ps.kept.Load()
	if k == nil || k.Serial != 2 {
		t.Fatalf("the newer root policy was not taken: %+v", k)
	}
	// Neither the replayed fragment nor the set-aside one, not verified
	// now, is in force.
	if tn := k.Tenants["team-a"]; tn != nil {
		t.Errorf("team-a's fragment at serial %d is in force", tn.Serial)
	}
	if k.LastRefusal == nil || k.LastRefusal.Reason != "rollback" || !strings.Contains(k.LastRefusal.Error, "team-a") {
		t.Errorf("the replayed fragment's refusal: %+v", k.LastRefusal)
	}
}
