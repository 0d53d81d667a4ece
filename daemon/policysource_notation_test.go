package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/registry"
)

// [policy_source.notation], its root certificate in a file (a ConfigMap or
// Secret): a policy signed under the root is taken. The root leaks and the
// attacker's higher serial is taken too; the operator replaces the file:
// the next watch tick sets that policy aside, the attacker's is refused as
// untrusted, and the first policy signed under the new root is taken (a
// fresh root signed nothing older, so it may start its serials over).
func TestNotationPolicySourceRootReplaced(t *testing.T) {
	host := srvHost(t)
	ref := host.host + "/signgate/policy:prod"
	leaked, fresh := replacedRoots(t)
	dir := t.TempDir()
	crt := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(crt, []byte(leaked.RootPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[certs.psroot]\npath = %q\n[policy_source]\nreference = %q\n[policy_source.notation]\ncerts = [\"psroot\"]\ntrusted_identities = [\"*\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), crt, ref)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	reg, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(serial int, pki *sigtest.PKI) name.Digest {
		t.Helper()
		dg := pushPolicyArtifact(t, ref, fmt.Sprintf("serial = %d\nexpires = %s\n[[policy]]\nname = \"p%d\"\nscopes = [\"**\"]\nmode = \"allow\"\n", serial, policytest.Soon, serial))
		repo, err := reg.Repository(dg.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.SignNotation(t.Context(), repo, dg, sigtest.JWS); err != nil {
			t.Fatal(err)
		}
		return dg
	}
	inForce := func() int64 {
		if k := d.ps.kept.Load(); k != nil {
			return k.Serial
		}
		return 0
	}

	publish(5, leaked)
	if err := d.RefreshPolicy(t.Context()); err != nil || inForce() != 5 {
		t.Fatalf("a policy signed under the notation root: %v (serial %d in force)", err, inForce())
	}
	publish(10, leaked) // the attacker, with the leaked root
	if err := d.RefreshPolicy(t.Context()); err != nil || inForce() != 10 {
		t.Fatalf("serial 10: %v (serial %d in force)", err, inForce())
	}

	if err := os.WriteFile(crt, []byte(fresh.RootPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	d.watchTick()
	if inForce() != 0 {
		t.Fatalf("the policy the leaked root verified (serial %d) stays in force after its file was replaced", inForce())
	}
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "untrusted" || inForce() != 0 {
		t.Fatalf("the attacker's policy under the new root: %v (serial %d in force)", err, inForce())
	}
	publish(1, fresh)
	if err := d.RefreshPolicy(t.Context()); err != nil || inForce() != 1 {
		t.Fatalf("the first policy under the new root: %v (serial %d in force)", err, inForce())
	}
}
