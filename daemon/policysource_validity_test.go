package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"
)

// A policy signed to expire in 2100 is as freezable as one that never
// expires: past policy_source.max_validity from the node's clock it is
// refused, naming the reference, the digest and the key; a node that
// raises max_validity takes it.
func TestPolicyExpiringTooFarIsRefused(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	img := mustPush(t, host.host+"/team/app:v1")
	ref := host.host + "/signgate/policy:prod"
	dg := publishBody(t, ref, "serial = 1\nexpires = 2100-01-01T00:00:00Z\n[[policy]]\nname = \"frozen\"\nscopes = [\"**\"]\nmode = \"allow\"\n", signer)
	decide := func(d *Daemon) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Platform: img.DigestStr()})
	}
	d, _ := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), signer.PublicPEM())
	err := d.RefreshPolicy(t.Context())
	if policysource.Reason(err) != policysource.ExpiresTooFarReason || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), dg.DigestStr()) || !strings.Contains(err.Error(), "policy_source.max_validity") {
		t.Fatalf("a policy expiring in 2100: %v", err)
	}
	if v := decide(d); v.Allowed {
		t.Errorf("a policy expiring in 2100 decides: %+v", v)
	}
	if got := testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues(policysource.ExpiresTooFarReason)); got != 1 {
		t.Errorf("signgate_policy_refused_total{reason=%q} = %v", policysource.ExpiresTooFarReason, got)
	}
	d, _ = sourcedDaemon(t, fmt.Sprintf("reference = %q\nmax_validity = \"1000000h\"", ref), signer.PublicPEM())
	if err := d.RefreshPolicy(t.Context()); err != nil {
		t.Fatalf("with max_validity raised: %v", err)
	}
	if v := decide(d); !v.Allowed {
		t.Errorf("with max_validity raised: %+v", v)
	}
}

// A tenant's fragment carries its own expires, as the root does: one
// without, or signed to expire beyond max_validity, is refused; one past
// its expires by the node's clock is refused when fetched and dropped
// when kept, so a tenant's registry cannot freeze it for as long as the
// root lasts. The root stays in force throughout, and while no fragment
// is in force the delegation denies what it delegates.
func TestTenantFragmentExpires(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	app := f.app(t)
	d, now := f.daemon(t)
	publishBody(t, rootRef, policytest.TeamARoot(root.PublicPEM(), tenant.PublicPEM(), tenantRef, host.host, ""), root)
	fragment := func(serial int, expires string) string {
		publishBody(t, tenantRef, f.fragment(serial, expires), tenant)
		return expires
	}
	check := func(when string, tenantIn bool, reason string) {
		t.Helper()
		if err := d.RefreshPolicy(t.Context()); err != nil {
			t.Fatalf("%s: the root is refused: %v", when, err)
		}
		k := d.ps.kept.Load()
		if k == nil || k.Serial != 1 {
			t.Fatalf("%s: the root is not in force: %+v", when, k)
		}
		v := d.Decide(t.Context(), verify.Request{Image: app, Namespace: "team-a", Platform: app.DigestStr()})
		if tenantIn && (!v.Allowed || v.Policy != "team-a/apps") || !tenantIn && (v.Allowed || v.Policy != "team-a/no-fragment-in-force" || v.Cause != verify.CauseDeniedByPolicy) {
			t.Errorf("%s: tenant in force %v: %+v", when, tenantIn, v)
		}
		if reason != "" && (k.LastRefusal == nil || k.LastRefusal.Reason != reason || !strings.Contains(k.LastRefusal.Error, `delegation "team-a"`)) {
			t.Errorf("%s: last refusal %+v, want %s naming the delegation", when, k.LastRefusal, reason)
		}
	}
	fragment(1, "")
	check("a fragment without expires", false, policysource.NoExpiresReason)
	fragment(2, "expires = 2100-01-01T00:00:00Z\n")
	check("a fragment expiring in 2100", false, policysource.ExpiresTooFarReason)
	fragment(3, "expires = "+now.Add(-time.Minute).UTC().Format(time.RFC3339)+"\n")
	check("a fragment already expired", false, policysource.ExpiredReason)
	fragment(4, "expires = "+now.Add(time.Hour).UTC().Format(time.RFC3339)+"\n")
	check("a fragment expiring in an hour", true, "")
	// The tenant's registry keeps serving it (frozen), past its expiry.
	*now = now.Add(2 * time.Hour)
	check("the frozen fragment past its expires", false, policysource.ExpiredReason)
	if k := d.ps.kept.Load(); k.Tenants["team-a"] != nil {
		t.Errorf("an expired fragment is kept: %+v", k.Tenants["team-a"])
	}
}

// A tenant's fragment kept by a signgate that recorded no signers is set
// aside with its root on upgrade, but its serial still bounds the
// tenant's registry, as the root's serial bounds the root's: an older
// fragment is refused as a rollback, a newer one taken.
func TestUpgradeKeepsTheSetAsideTenantsSerial(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	cfg, state := sourcedConfig(t, fmt.Sprintf("reference = %q", rootRef), root.PublicPEM())
	rootBody := policytest.TeamARoot(root.PublicPEM(), tenant.PublicPEM(), tenantRef, host.host, "")
	old := &policysource.Kept{Reference: rootRef, Digest: "sha256:old", Serial: 1, Verified: time.Now(), Body: rootBody,
		Tenants: map[string]*policysource.Tenant{"team-a": {Reference: tenantRef, Digest: "sha256:five", Serial: 5, Body: "serial = 5\nexpires = " + policytest.Soon + "\n"}}}
	if err := policysource.WriteKept(state, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	if d.config().Source.Kept != nil || d.config().Source.Floor == nil {
		t.Fatal("a policy kept without a signers record is in force, or not a floor")
	}
	publishBody(t, rootRef, strings.Replace(rootBody, "serial = 1", "serial = 2", 1), root)
	fragment := func(serial int) {
		publishBody(t, tenantRef, f.fragment(serial, "expires = "+policytest.Soon+"\n"), tenant)
	}
	fragment(3)
	mustRefresh(t, d)
	k := d.ps.kept.Load()
	if k == nil || k.Serial != 2 {
		t.Fatalf("the newer root is not taken: %+v", k)
	}
	if k.Tenants["team-a"] != nil || k.LastRefusal == nil || k.LastRefusal.Reason != "rollback" {
		t.Errorf("serial 3 under the set-aside tenant's serial 5: kept %+v, last refusal %+v", k.Tenants["team-a"], k.LastRefusal)
	}
	fragment(6)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k.Tenants["team-a"] == nil || k.Tenants["team-a"].Serial != 6 {
		t.Errorf("a newer fragment after the upgrade: %+v", k.Tenants["team-a"])
	}
}
