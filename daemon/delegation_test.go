package daemon

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"
)

// A root policy delegates namespace team-a, over images under team-a/, to
// the tenant's signed fragment: it governs team-a's pods there, never
// another namespace's, never an image outside the delegation, and never
// one a root floor policy governs. A fragment reaching beyond is refused,
// naming the delegation, and the tenant's previous one stays.
func TestDelegatedFragmentStaysInsideItsDelegation(t *testing.T) {
	host := srvHost(t)
	root, tenant, stranger := mustSigner(t), mustSigner(t), mustSigner(t)
	app := mustPush(t, host.host+"/team-a/app:v1")
	critical := mustPush(t, host.host+"/team-a/critical:v1")
	rootRef, tenantRef := host.host+"/security/policy:prod", host.host+"/team-a/policy:prod"
	cfg, state := sourcedConfig(t, fmt.Sprintf("reference = %q", rootRef), root.PublicPEM())
	logs := &syncedBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	publishBody(t, rootRef, policytest.TeamARoot(root.PublicPEM(), tenant.PublicPEM(), tenantRef, host.host, fmt.Sprintf(`[[policy]]
name = "critical"
floor = true
scopes = ["%s/team-a/critical"]
  [policy.cosign]
  keys = ["security"]
`, host.host)), root)
	tenantBody := func(serial int, namespaces, scopes string) string {
		return fmt.Sprintf("serial = %d\nexpires = "+policytest.Soon+"\n[[policy]]\nname = \"apps\"\nnamespaces = %s\nscopes = %s\nmode = \"allow\"\n", serial, namespaces, scopes)
	}
	publishBody(t, tenantRef, tenantBody(1, `["team-a"]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host)), tenant)
	mustRefresh(t, d)
	decide := func(img name.Digest, ns string) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Namespace: ns, Platform: img.DigestStr()})
	}
	check := func(when string) {
		t.Helper()
		if v := decide(app, "team-a"); !v.Allowed || v.Policy != "team-a/apps" {
			t.Errorf("%s: team-a's app in team-a: %+v", when, v)
		}
		if v := decide(app, "team-b"); v.Allowed || v.Policy != "root-default" {
			t.Errorf("%s: team-a's app in team-b: %+v", when, v)
		}
		if v := decide(critical, "team-a"); v.Allowed || v.Policy != "critical" {
			t.Errorf("%s: the floor's image in team-a: %+v", when, v)
		}
	}
	check("delegated")

	for i, c := range []struct{ namespaces, scopes, want string }{
		{`["team-a", "team-b"]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host), `covers namespace "team-b", which is not delegated`},
		{`["team-a"]`, fmt.Sprintf(`["%s/team-b/**"]`, host.host), "outside the delegated scopes"},
		{`[]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host), "would govern every namespace"},
	} {
		before := testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("overreach"))
		publishBody(t, tenantRef, tenantBody(2+i, c.namespaces, c.scopes), tenant)
		mustRefresh(t, d)
		if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("overreach")) != before+1 {
			t.Errorf("overreach %s not counted", c.want)
		}
		if l := strings.ReplaceAll(logs.String(), `\"`, `"`); !strings.Contains(l, `delegation=team-a`) || !strings.Contains(l, `delegation "team-a": policy[0] "apps" `) || !strings.Contains(l, c.want) {
			t.Errorf("the refusal does not name the delegation and %q:\n%s", c.want, l)
		}
		if k, err := policysource.ReadKept(state); err != nil || k.LastRefusal == nil || k.LastRefusal.Reason != "overreach" || !strings.Contains(k.LastRefusal.Error, `delegation "team-a"`) {
			t.Errorf("the refusal is not kept for doctor: %+v %v", k, err)
		}
		check("after an overreaching fragment")
	}

	// Signed by another key than the delegation's: refused as untrusted.
	publishBody(t, tenantRef, tenantBody(9, `["team-a"]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host)), stranger)
	mustRefresh(t, d)
	if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("untrusted")) != 1 {
		t.Error("a fragment signed by another key was not refused")
	}
	check("after a fragment signed by another key")
	// A newer fragment is taken; the first one, replayed, is a rollback.
	publishBody(t, tenantRef, tenantBody(10, `["team-a"]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host)), tenant)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Tenants["team-a"] == nil || k.Tenants["team-a"].Serial != 10 {
		t.Fatalf("the newer fragment was not taken: %+v", k)
	}
	publishBody(t, tenantRef, tenantBody(1, `["team-a"]`, fmt.Sprintf(`["%s/team-a/**"]`, host.host)), tenant)
	mustRefresh(t, d)
	if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("rollback")) != 1 || d.ps.kept.Load().Tenants["team-a"].Serial != 10 {
		t.Error("a replayed older fragment was not refused as a rollback")
	}
	check("after a replayed fragment")
	// And after a restart, from what was kept.
	if d, err = New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	check("restarted")
}

func mustSigner(t *testing.T) *sigtest.Signer {
	t.Helper()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
