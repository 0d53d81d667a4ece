package setup_test

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

// rotatingSource writes a config whose policy source is signed by any of
// keys (by name, all defined), and returns a writer to change them.
func rotatingSource(t *testing.T, signers map[string]*sigtest.Signer) (path, state string, write func(names ...string)) {
	t.Helper()
	dir := t.TempDir()
	state = filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "config.toml")
	write = func(names ...string) {
		t.Helper()
		body := fmt.Sprintf("[daemon]\nstate_dir = %q\n", state)
		list := ""
		for i, n := range names {
			body += fmt.Sprintf("[keys.%s]\npem = '''\n%s'''\n", n, signers[n].PublicPEM())
			if i > 0 {
				list += ", "
			}
			list += fmt.Sprintf("%q", n)
		}
		body += "[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.cosign]\nkeys = [" + list + "]\n"
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path, state, write
}

// keepUnder keeps a serial-10 policy, with a tenant's serial-4 fragment,
// as verified by the signers of the config at path.
func keepUnder(t *testing.T, path, state string) {
	t.Helper()
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	body := "serial = 10\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"p10\"\nscopes = [\"**\"]\nmode = \"deny\"\n"
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:ten", Serial: 10, Body: body, Verified: time.Now(),
		Signers: c.Source.Signers, SignerMaterial: c.Source.Material,
		Tenants: map[string]*policysource.Tenant{"team": {Digest: "sha256:four", Serial: 4}}}
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// Signed by any of [a, b], serial 10 in force; b leaks and is dropped, a
// stays. The kept policy is set aside (b may have signed it), but a may
// have signed older ones: its serial, and its tenants', still bound the
// source, so an older policy a signed before a hole was closed is refused
// as a rollback. A completely fresh key signed nothing older: the kept
// serial bounds nothing (as docs/config.md says), min_serial still does.
func TestDroppingOneSignerKeepsTheSerialFloor(t *testing.T) {
	keys := map[string]*sigtest.Signer{}
	for _, n := range []string{"a", "b", "fresh"} {
		s, err := sigtest.NewSigner()
		if err != nil {
			t.Fatal(err)
		}
		keys[n] = s
	}
	path, state, write := rotatingSource(t, keys)
	write("a", "b")
	keepUnder(t, path, state)
	write("a") // b leaked
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil {
		t.Fatal("the policy b may have signed stays in force after b was dropped")
	}
	if c.Source.Floor == nil || c.Source.Floor.Serial != 10 || c.Source.Floor.Tenants["team"].Serial != 4 {
		t.Fatalf("the serial floor is gone after dropping one of two signers: %+v (%v)", c.Source.Floor, c.Source.KeptError)
	}
	if _, err := policysource.Accept(c.Source.Floor, "sha256:three", 3, c.Source.MinSerial); err == nil {
		t.Error("serial 3, signed by a (kept), would be taken after serial 10 was in force")
	}
	if e := c.Source.KeptError; e == nil || !strings.Contains(e.Error(), "not above 10") || !strings.Contains(e.Error(), "policy.json") {
		t.Errorf("the floor and its way out are not named: %v", e)
	}

	path, state, write = rotatingSource(t, keys)
	write("a", "b")
	keepUnder(t, path, state)
	write("fresh") // both replaced
	if c, err = setup.Load(path); err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.Floor != nil {
		t.Errorf("a fresh key inherits the old signers' policy or serial: kept %v, floor %v", c.Source.Kept != nil, c.Source.Floor != nil)
	}
}

// A kept policy that records no signers' material (kept by the release
// before it) under other signers: which of them stayed is unknown, so its
// serial still bounds the source (deny on doubt).
func TestUnknownSignerMaterialKeepsTheSerialFloor(t *testing.T) {
	a, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	path, state, write := rotatingSource(t, map[string]*sigtest.Signer{"a": a})
	write("a")
	keepVerified(t, state, "serial = 10\nexpires = "+policytest.Soon+"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"deny\"\n", 10, "v2:sha256:other")
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.Floor == nil || c.Source.Floor.Serial != 10 {
		t.Errorf("kept %v, floor %+v: %v", c.Source.Kept != nil, c.Source.Floor, c.Source.KeptError)
	}
}

// A keyless policy source's trust root is read from a file: replacing the
// file changes the signers (the kept policy is set aside) and the file is
// among those watch_config watches. The identity stays, so the serial
// still bounds the source.
func TestReplacedSourceTrustRootFileChangesTheSigners(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "trusted_root.json")
	writeRoot := func() {
		t.Helper()
		ss, err := sigtest.NewSigstore()
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.WriteTrustedRoot(root, true); err != nil {
			t.Fatal(err)
		}
	}
	writeRoot()
	path := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\nstate_dir = %q\n[trust_roots.sigstore]\npath = %q\n[identities.release]\ntrust_root = \"sigstore\"\nissuer = \"https://token.actions.githubusercontent.com\"\nsubject = \"https://github.com/org/policy/.github/workflows/publish.yml@refs/heads/main\"\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.cosign]\nidentities = [\"release\"]\n", state, root)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	keepUnder(t, path, state)
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept == nil {
		t.Fatalf("the same signers: set aside: %v", c.Source.KeptError)
	}
	if files := c.Source.SignerFiles(); len(files) != 1 || files[0] != root {
		t.Errorf("the signers' files are %q, want the trust root's", files)
	}
	writeRoot()
	if c, err = setup.Load(path); err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil {
		t.Error("the policy verified under the replaced trust root stays in force")
	}
	if c.Source.Floor == nil || c.Source.Floor.Serial != 10 {
		t.Errorf("the identity stayed, but the serial floor is gone: %v", c.Source.KeptError)
	}
}
