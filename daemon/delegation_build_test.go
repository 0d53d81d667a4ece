package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// signgate policy build carries the [delegations] of the config it builds
// from: built, signed and verified by a node, the delegation is in force,
// and the tenant's signed fragment governs its namespace.
func TestBuiltPolicyDelegates(t *testing.T) {
	f := newDelegation(t)
	host, root, tenant, rootRef, tenantRef := f.host, f.root, f.tenant, f.rootRef, f.tenantRef
	app := f.app(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "team-a.pub"), []byte(tenant.PublicPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "fleet-policy.toml")
	if err := os.WriteFile(src, []byte(fmt.Sprintf(`[keys.security]
pem = '''
%s'''
[keys.team-a]
path = "team-a.pub"

[delegations.team-a]
reference = %q
namespaces = ["team-a"]
scopes = ["%s/team-a/**"]
keys = ["team-a"]

[[policy]]
name = "root-default"
scopes = ["**"]
  [policy.cosign]
  keys = ["security"]
`, root.PublicPEM(), tenantRef, host.host)), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	body, err := policysource.FromConfig(cc, 1, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	publishBody(t, rootRef, string(body), root)
	publishBody(t, tenantRef, f.fragment(1, "expires = "+policytest.Soon+"\n"), tenant)

	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n"+
		"[policy_source]\nreference = %q\n[policy_source.cosign]\nkeys = [\"security\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), root.PublicPEM(), rootRef)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Tenants["team-a"] == nil {
		t.Fatalf("the built delegation is not in force: %+v", k)
	}
	decide := func(ns string) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: app, Namespace: ns, Platform: app.DigestStr()})
	}
	if v := decide("team-a"); !v.Allowed || v.Policy != "team-a/apps" {
		t.Errorf("team-a's app in team-a, under the built delegation: %+v", v)
	}
	if v := decide("team-b"); v.Allowed || v.Policy != "root-default" {
		t.Errorf("team-a's app in team-b: %+v", v)
	}
}
