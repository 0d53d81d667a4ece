package setup_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

func sourcedConfig(t *testing.T, extra string) (path, state string) {
	t.Helper()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state = filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\nstate_dir = %q\n[keys.security]\npem = '''\n%s'''\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.cosign]\nkeys = [\"security\"]\n%s",
		state, s.PublicPEM(), extra)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, state
}

// With [policy_source], the local file cannot also hold a policy: whoever
// edits it does not get to add one beside the signed one.
func TestLocalPolicyRefusedWithASource(t *testing.T) {
	path, _ := sourcedConfig(t, "[[policy]]\nname = \"local\"\nscopes = [\"**\"]\nmode = \"allow\"\n")
	if _, err := setup.Load(path); err == nil || !strings.Contains(err.Error(), "[policy_source] gives the policy") {
		t.Fatalf("a local [[policy]] beside [policy_source]: %v", err)
	}
}

// The kept policy is used at start only if its state file passes the
// checks: edited, it is set aside, named, and the node runs with no policy
// (every image denied), saying so.
func TestTamperedKeptPolicyIsNotUsed(t *testing.T) {
	path, state := sourcedConfig(t, "")
	body := "serial = 3\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"kept\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:three", Serial: 3, Body: body, Verified: time.Now(), Signers: signersOf(t, path)}
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(path)
	if err != nil || c.Source.Kept == nil || len(c.Policies) != 1 || c.Policies[0].Name != "kept" {
		t.Fatalf("the kept policy: %v %+v", err, c)
	}
	f := policysource.Path(state)
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(strings.Replace(string(b), `name = \"kept\"`, `name = \"edited\"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || len(c.Policies) != 0 || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "checksum") {
		t.Fatalf("an edited kept policy: kept %+v, policies %+v, error %v", c.Source.Kept, c.Policies, c.Source.KeptError)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, f) || !strings.Contains(w, "every image is denied") {
		t.Errorf("warnings: %s", w)
	}
}
