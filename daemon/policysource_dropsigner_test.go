package daemon

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
)

// Signed by any of [a, b]; serial 10 verified and kept; b leaks and the
// operator drops it (a stays). After the reload the kept policy is set
// aside, but a policy a signed long ago (serial 3) is refused as a
// rollback: what a refresh keeps records each signer, and the serial
// outlives the signer that leaked. A newer one from a is taken. When every
// signer is replaced, the fresh key starts over, as the docs promise.
func TestDroppedLeakedSignerOpensNoRollback(t *testing.T) {
	host := srvHost(t)
	a, b := mustSigner(t), mustSigner(t)
	ref := host.host + "/signgate/policy:prod"
	cfg, state := sourcedConfig(t, fmt.Sprintf("reference = %q", ref), a.PublicPEM())
	onlyA, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	both := strings.Replace(string(onlyA), "[policy_source]\n", fmt.Sprintf("[keys.b]\npem = '''\n%s'''\n[policy_source]\n", b.PublicPEM()), 1)
	both = strings.Replace(both, `keys = ["security"]`, `keys = ["security", "b"]`, 1)
	if err := os.WriteFile(cfg, []byte(both), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	policy := func(serial int) string {
		return fmt.Sprintf("serial = %d\nexpires = %s\n[[policy]]\nname = \"p%d\"\nscopes = [\"**\"]\nmode = \"allow\"\n", serial, policytest.Soon, serial)
	}
	old := pushPolicyArtifact(t, ref, policy(3)) // signed by a before a hole was closed
	if err := a.SignLegacy(old); err != nil {
		t.Fatal(err)
	}
	publishBody(t, ref, policy(10), b)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 10 {
		t.Fatalf("serial 10 not taken: %+v", k)
	}

	if err := os.WriteFile(cfg, onlyA, 0o600); err != nil { // b leaked: dropped
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if d.ps.kept.Load() != nil {
		t.Fatal("the policy b may have signed stays in force after b was dropped")
	}
	if again := pushPolicyArtifact(t, ref, policy(3)); again != old { // the registry serves it again
		t.Fatalf("the same body built %s, then %s", old, again)
	}
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "rollback" || !strings.Contains(err.Error(), policysource.Path(state)) {
		t.Fatalf("serial 3, signed by a, after serial 10 was in force: %v (in force %+v)", err, d.ps.kept.Load())
	}
	publishBody(t, ref, policy(11), a)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 11 {
		t.Fatalf("a newer policy from a: %+v", k)
	}

	// Every signer replaced: the fresh key signed nothing older, so the
	// source may start its serials over (min_serial still bounds them).
	fresh := mustSigner(t)
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(onlyA), a.PublicPEM(), fresh.PublicPEM(), 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	publishBody(t, ref, policy(1), fresh)
	if err := d.RefreshPolicy(t.Context()); err != nil {
		t.Fatalf("serial 1 from a fresh key, after every signer was replaced: %v", err)
	}
	if k := d.ps.kept.Load(); k == nil || k.Serial != 1 {
		t.Errorf("serial 1 from the fresh key: %+v", k)
	}
}
