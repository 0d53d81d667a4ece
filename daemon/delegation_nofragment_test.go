package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/verify"
)

// A delegation with no fragment in force (not published yet, or expired
// and dropped) denies the images it delegates in its namespaces: they
// used to fall to the root's later policies, so a root's audit catch-all
// admitted unsigned images there, and a tenant's enforcing policy that
// expired silently became audit. Other namespaces keep the root's policies.
func TestDelegationWithoutFragmentDenies(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	app := f.app(t)
	d, now := f.daemon(t)
	// The root's catch-all audits: it admits an unsigned image (the
	// root-default after it is never reached).
	publishBody(t, rootRef, policytest.TeamARoot(root.PublicPEM(), tenant.PublicPEM(), tenantRef, host.host, `[[policy]]
name = "catch-all"
scopes = ["**"]
mode = "audit"
  [policy.cosign]
  keys = ["security"]
`), root)
	decide := func(img name.Digest, ns string) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Namespace: ns, Platform: img.DigestStr()})
	}
	check := func(when string) {
		t.Helper()
		if err := d.RefreshPolicy(t.Context()); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if v := decide(app, "team-a"); v.Allowed || v.Policy != "team-a/no-fragment-in-force" || v.Cause != verify.CauseDeniedByPolicy || !strings.Contains(v.Reason, `delegation "team-a"`) {
			t.Errorf("%s: team-a's unsigned app in team-a: %+v", when, v)
		}
		if v := decide(app, "team-b"); !v.Allowed || v.Policy != "catch-all" {
			t.Errorf("%s: team-a's unsigned app in team-b, under the root's catch-all: %+v", when, v)
		}
	}
	check("no fragment published")

	publishBody(t, tenantRef, fmt.Sprintf("serial = 1\nexpires = %s\n[[policy]]\nname = \"apps\"\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nmode = \"enforce\"\n  [policy.cosign]\n  keys = [\"release\"]\n[keys.release]\npem = '''\n%s'''\n",
		now.Add(time.Hour).UTC().Format(time.RFC3339), host.host, tenant.PublicPEM()), tenant)
	mustRefresh(t, d)
	if v := decide(app, "team-a"); v.Allowed || v.Policy != "team-a/apps" {
		t.Errorf("under the tenant's enforcing fragment: %+v", v)
	}
	// The tenant's registry serves it on, past its expires: dropped.
	*now = now.Add(2 * time.Hour)
	check("the fragment expired")
	if k := d.ps.kept.Load(); k.Tenants["team-a"] != nil {
		t.Errorf("the expired fragment is kept: %+v", k.Tenants["team-a"])
	}
}
