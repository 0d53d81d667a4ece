package daemon

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"
)

// A delegation with no fragment in force denied "never published,
// refused, or expired" while a running node refreshed: its tenant could
// not tell which. The denial now says which (never published, refused
// with the refusal, expired at when), across a restart too, and its cause
// and policy stay those a caller switches on.
func TestDelegationDenialSaysWhyItHasNoFragment(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	app := f.app(t)
	cfg, _ := sourcedConfig(t, fmt.Sprintf("reference = %q", rootRef), root.PublicPEM())
	start := func() *Daemon { return mustNew(t, cfg) }
	d := start()
	now := time.Now()
	d.ps.now = func() time.Time { return now }
	publishBody(t, rootRef, fmt.Sprintf("serial = 1\nexpires = %s\n[keys.team-a]\npem = '''\n%s'''\n[delegations.team-a]\nreference = %q\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nkeys = [\"team-a\"]\n",
		policytest.Soon, tenant.PublicPEM(), tenantRef, host.host), root)
	fragment := func(expires time.Time) string {
		return f.fragment(1, "expires = "+expires.UTC().Format(time.RFC3339)+"\n")
	}
	denied := func(d *Daemon, when string, want ...string) {
		t.Helper()
		v := d.Decide(t.Context(), verify.Request{Image: app, Namespace: "team-a", Platform: app.DigestStr()})
		if v.Allowed || v.Policy != "team-a/no-fragment-in-force" || v.Cause != verify.CauseDeniedByPolicy || !strings.Contains(v.Reason, `delegation "team-a"`) {
			t.Errorf("%s: %+v", when, v)
		}
		if strings.Contains(v.Reason, "never published, refused, or expired") {
			t.Errorf("%s: the reason does not say which: %s", when, v.Reason)
		}
		for _, w := range want {
			if !strings.Contains(v.Reason, w) {
				t.Errorf("%s: the reason does not say %q: %s", when, w, v.Reason)
			}
		}
	}
	refresh := func() {
		t.Helper()
		mustRefresh(t, d)
	}

	refresh()
	denied(d, "never published", "never published")

	// Signed by the root's key, not the delegation's: refused.
	bad := publishBody(t, tenantRef, fragment(now.Add(time.Hour)), root)
	refresh()
	denied(d, "refused", "was refused (untrusted)", bad.DigestStr())
	denied(start(), "refused, after a restart", "was refused (untrusted)", bad.DigestStr())

	good := publishBody(t, tenantRef, fragment(now.Add(time.Hour)), tenant)
	refresh()
	if v := d.Decide(t.Context(), verify.Request{Image: app, Namespace: "team-a", Platform: app.DigestStr()}); !v.Allowed || v.Policy != "team-a/apps" {
		t.Fatalf("under the tenant's fragment: %+v", v)
	}
	// Its registry serves it on, past its expires.
	now = now.Add(2 * time.Hour)
	refresh()
	denied(d, "expired", "expired at "+now.Add(-time.Hour).UTC().Format(time.RFC3339), good.DigestStr())
}

// A registry not reached leaves a delegation's absence as the refresh
// before found it (expired, say), or as the one in force was dropped now.
func TestAbsenceSurvivesAnUnreachedRegistry(t *testing.T) {
	down := errors.New("dial tcp: connection refused")
	was := &policysource.Absence{Cause: policysource.ExpiredReason, Digest: "sha256:a", Why: "its fragment sha256:a expired at T"}
	if a := absence(down, nil, was); a != was {
		t.Errorf("not reached: %+v", a)
	}
	exp := &policysource.RefusedError{Digest: "sha256:b", Reason: policysource.ExpiredReason, Err: errors.New("expired")}
	if a := absence(down, exp, nil); a.Cause != policysource.ExpiredReason || a.Digest != "sha256:b" {
		t.Errorf("dropped now, not reached: %+v", a)
	}
	if a := absence(down, nil, nil); a.Cause != policysource.NotReached {
		t.Errorf("never reached: %+v", a)
	}
}

// A fragment kept but dropped at start (expired) stays the reason its
// delegation denies while the tenant's registry is not reached.
func TestAbsenceFromStartSurvivesAnUnreachedRegistry(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef := f.host, f.root, f.tenant, f.rootRef
	tenantRef := "127.0.0.1:1/team-a/policy:prod" // nothing listens there
	publishBody(t, rootRef, fmt.Sprintf("serial = 1\nexpires = %s\n[keys.team-a]\npem = '''\n%s'''\n[delegations.team-a]\nreference = %q\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nkeys = [\"team-a\"]\n",
		policytest.Soon, tenant.PublicPEM(), tenantRef, host.host), root)
	cfg, state := sourcedConfig(t, fmt.Sprintf("reference = %q", rootRef), root.PublicPEM())
	d := mustNew(t, cfg)
	mustRefresh(t, d)
	k, err := policysource.ReadKept(state)
	if err != nil || k == nil {
		t.Fatal(k, err)
	}
	// As if a fragment, since expired, had been kept with it.
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	k.Tenants = map[string]*policysource.Tenant{"team-a": {Reference: tenantRef, Digest: "sha256:old", Serial: 1, Signers: policysource.DelegationSigners(mustFragment(t, k.Body), "team-a"),
		Body: f.fragment(1, "expires = "+past+"\n")}}
	k.Absent = nil
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	d = mustNew(t, cfg)
	mustRefresh(t, d)
	if a := d.ps.kept.Load().Absent["team-a"]; a == nil || a.Cause != policysource.ExpiredReason || !strings.Contains(a.Why, "expired at "+past) {
		t.Errorf("after a refresh that did not reach the tenant's registry: %+v", a)
	}
}

func mustFragment(t *testing.T, body string) *config.Fragment {
	t.Helper()
	f, err := config.ParseFragment("root", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
