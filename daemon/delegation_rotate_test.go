package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/verify"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// A root that rotates a tenant's key (the old one leaked) ends the
// fragment the old key signed: a registry still serving it cannot keep it
// in force by having the new key's fragment refused, nor can a restart.
func TestRotatedTenantKeyEndsItsFragment(t *testing.T) {
	host := srvHost(t)
	root, leaked, rotated := mustSigner(t), mustSigner(t), mustSigner(t)
	app := mustPush(t, host.host+"/team-a/app:v1")
	rootRef, tenantRef := host.host+"/security/policy:prod", host.host+"/team-a/policy:prod"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n"+
		"[policy_source]\nreference = %q\n[policy_source.cosign]\nkeys = [\"security\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), root.PublicPEM(), rootRef)), 0o600); err != nil {
		t.Fatal(err)
	}
	publishRoot := func(serial int, tenantKey *sigtest.Signer) {
		publishBody(t, rootRef, fmt.Sprintf("serial = %d\nexpires = "+policytest.Soon+"\n[keys.team-a]\npem = '''\n%s'''\n[delegations.team-a]\nreference = %q\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nkeys = [\"team-a\"]\n[[policy]]\nname = \"root-default\"\nscopes = [\"**\"]\nmode = \"enforce\"\n  [policy.cosign]\n  keys = [\"team-a\"]\n",
			serial, tenantKey.PublicPEM(), tenantRef, host.host), root)
	}
	publishRoot(1, leaked)
	publishBody(t, tenantRef, fmt.Sprintf("serial = 1\nexpires = "+policytest.Soon+"\n[[policy]]\nname = \"apps\"\nnamespaces = [\"team-a\"]\nscopes = [\"%s/team-a/**\"]\nmode = \"allow\"\n", host.host), leaked)
	d := mustNew(t, cfg)
	decide := func(d *Daemon, img name.Digest) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Namespace: "team-a", Platform: img.DigestStr()})
	}
	mustRefresh(t, d)
	if v := decide(d, app); !v.Allowed || v.Policy != "team-a/apps" {
		t.Fatalf("under the first key: %+v", v)
	}
	// The root rotates team-a's key; the registry still serves the
	// fragment the leaked key signed.
	publishRoot(2, rotated)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 2 || k.Tenants["team-a"] != nil {
		t.Errorf("after the rotation the leaked key's fragment is kept: %+v", k.Tenants["team-a"])
	}
	if v := decide(d, app); v.Allowed || v.Policy != "team-a/no-fragment-in-force" {
		t.Errorf("after the rotation the leaked key's fragment decides: %+v", v)
	}
	if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("untrusted")) == 0 {
		t.Error("the leaked key's fragment was not counted as refused")
	}
}
