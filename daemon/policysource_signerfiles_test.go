package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// notationSourced writes a config whose policy source is verified by
// [policy_source.notation] against the root certificate in a file (a
// ConfigMap or Secret), and keeps a policy as if verified under it.
func notationSourced(t *testing.T, rootPEM string) (cfgPath, crt string) {
	t.Helper()
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	crt = filepath.Join(dir, "root.pem")
	if err := os.WriteFile(crt, []byte(rootPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath = filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\nstate_dir = %q\n[certs.psroot]\npath = %q\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.notation]\ncerts = [\"psroot\"]\ntrusted_identities = [\"*\"]\n", state, crt)
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	policy := "serial = 10\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"signed-under-the-old-root\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:ten", Serial: 10, Body: policy, Verified: time.Now(), Signers: c.Source.Signers}
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	return cfgPath, crt
}

// replacedRoots are two notation roots: one that leaks, and the one the
// operator replaces it with.
func replacedRoots(t *testing.T) (leaked, fresh *sigtest.PKI) {
	t.Helper()
	leaked, err := sigtest.NewPKI("leaked-root")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err = sigtest.NewPKI("new-root")
	if err != nil {
		t.Fatal(err)
	}
	return leaked, fresh
}

// leakedRootNode starts a daemon whose policy source is verified by a
// root certificate in the file crt (see notationSourced), and returns it
// with the PKI of the root the operator will replace it with.
func leakedRootNode(t *testing.T) (d *Daemon, crt string, fresh *sigtest.PKI) {
	t.Helper()
	old, fresh := replacedRoots(t)
	cfgPath, crt := notationSourced(t, old.RootPEM())
	return mustNew(t, cfgPath), crt, fresh
}

// The operator replaces the notation root the policy source trusts (it
// leaked, and the attacker's policy was taken): watch_config reloads at
// its next tick and the policy the old root verified is set aside, not
// kept in force until a SIGHUP.
func TestReplacedSourceCertReloadsAndSetsThePolicyAside(t *testing.T) {
	d, crt, fresh := leakedRootNode(t)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 10 {
		t.Fatalf("the policy verified under the root is not in force: %v", d.config().Source.KeptError)
	}
	d.watchTick()
	if k := d.ps.kept.Load(); k == nil {
		t.Fatalf("a tick with nothing changed set the policy aside: %v", d.config().Source.KeptError)
	}
	if err := os.WriteFile(crt, []byte(fresh.RootPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	d.watchTick()
	if k := d.ps.kept.Load(); k != nil {
		t.Fatalf("the policy verified under the replaced root (serial %d) stays in force", k.Serial)
	}
	if e := d.config().Source.KeptError; e == nil || !strings.Contains(e.Error(), "signers") {
		t.Errorf("the reason it was set aside is not named: %v", e)
	}
}

// A refresh re-reads the signers' files: one that finds them changed since
// the config was loaded reloads first, so nothing is verified under the
// new files and kept under the old fingerprint (set aside at the next
// start).
func TestRefreshReloadsWhenTheSignersFilesChanged(t *testing.T) {
	d, crt, fresh := leakedRootNode(t)
	if src := d.config().Source; src.SignersNow() != src.Signers {
		t.Fatal("the signers read now differ from those at load with nothing changed")
	}
	if err := os.WriteFile(crt, []byte(fresh.RootPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = d.RefreshPolicy(t.Context()) // the registry is not reached; the reload comes first
	if k := d.ps.kept.Load(); k != nil {
		t.Fatalf("the policy verified under the replaced root (serial %d) stays in force", k.Serial)
	}
	if src := d.config().Source; src.SignersNow() != src.Signers {
		t.Error("the config in force still carries the old signers' fingerprint")
	}
}
