package policysource_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// A config's policy, built into an artifact, composes into a node's
// bootstrap and compiles to the same policies, its key files inlined.
func TestBuiltPolicyComposesIntoTheNode(t *testing.T) {
	dir := t.TempDir()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k1.pub"), []byte(s.PublicPEM()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "policy-src.toml")
	if err := os.WriteFile(src, []byte("[keys.k1]\npath = \"k1.pub\"\n[[policy]]\nname = \"apps\"\nscopes = [\"registry.example/**\"]\n[policy.cosign]\nkeys = [\"k1\"]\nrequire = 1\n[[policy]]\nname = \"pause\"\nscopes = [\"registry.example/pause\"]\nmode = \"allow\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cc, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	body, err := policysource.FromConfig(cc, 7, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(body), "expires") {
		// A node that predates expires refuses an unknown key.
		t.Errorf("built without an expiry, the artifact names one:\n%s", body)
	}
	exp := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
	withExp, err := policysource.FromConfig(cc, 7, exp)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := config.ParseFragment("built", withExp); err != nil || !f.Expires.Equal(exp) {
		t.Errorf("built with expires %s: %v %v", exp, f, err)
	}
	if strings.Contains(string(body), "k1.pub") {
		t.Errorf("the key file was not inlined:\n%s", body)
	}
	img, frag, err := policysource.Build(body)
	if err != nil || frag.Serial != 7 {
		t.Fatalf("build: %v %+v", err, frag)
	}
	back, frag2, err := policysource.Read("built", img, 1<<20)
	if err != nil || string(back) != string(body) || frag2.Serial != 7 {
		t.Fatalf("read back: %v", err)
	}
	node := filepath.Join(dir, "node.toml")
	if err := os.WriteFile(node, []byte("[daemon]\nstate_dir = \""+filepath.Join(dir, "state")+"\"\n[keys.security]\npath = \"k1.pub\"\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.cosign]\nkeys = [\"security\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	local, err := config.Load(node)
	if err != nil {
		t.Fatal(err)
	}
	c, err := setup.Compose(local, body, "sha256:test")
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(c.Policies) != 2 || c.Policies[0].Name != "apps" || c.Policies[0].Cosign.Threshold != 1 || len(c.Keys) != 1 || c.Keys[0].Name != "k1" {
		t.Errorf("composed: %+v keys %+v", c.Policies, c.Keys)
	}
}

// What a policy artifact may carry is checked strictly: daemon settings
// or a missing serial are refused, naming the artifact.
func TestFragmentIsStrict(t *testing.T) {
	for body, want := range map[string]string{
		"serial = 1\n[daemon]\nnri_socket = \"x\"\n": "unknown key(s): daemon",
		"[[policy]]\nname = \"a\"\n":                 "serial = 0",
	} {
		if _, err := config.ParseFragment("policy sha256:x", []byte(body)); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "policy sha256:x") {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

// A delegation a node would refuse (here: no keys to sign the tenant's
// fragment) is refused at build, naming the file and the key.
func TestBuildRefusesAnUnboundedDelegation(t *testing.T) {
	src := filepath.Join(t.TempDir(), "fleet-policy.toml")
	if err := os.WriteFile(src, []byte("[delegations.team-a]\nreference = \"registry.example/team-a/policy:prod\"\nnamespaces = [\"team-a\"]\nscopes = [\"registry.example/team-a/**\"]\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cc, err := config.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policysource.FromConfig(cc, 1, time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), src) || !strings.Contains(err.Error(), "delegations.team-a.keys") {
		t.Errorf("an unbounded delegation: %v", err)
	}
	// A policy named as a delegation's denial (while it has no fragment)
	// would make nodes refuse the policy: refused at build.
	if err := os.WriteFile(src, []byte("[keys.s]\npem = \"x\"\n[delegations.team-a]\nreference = \"registry.example/team-a/policy:prod\"\nnamespaces = [\"team-a\"]\nscopes = [\"registry.example/team-a/**\"]\nkeys = [\"s\"]\n[[policy]]\nname = \"team-a/no-fragment-in-force\"\nscopes = [\"**\"]\nmode = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cc, err = config.Load(src); err != nil {
		t.Fatal(err)
	}
	if _, err := policysource.FromConfig(cc, 1, time.Now().Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "delegations.team-a") {
		t.Errorf("a policy named as team-a's denial: %v", err)
	}
	// A node's own file delegates nothing: beside [policy_source] it is an error.
	node := filepath.Join(filepath.Dir(src), "node.toml")
	if err := os.WriteFile(node, []byte("[keys.s]\npem = \"x\"\n[policy_source]\nreference = \"registry.example/p:1\"\n[policy_source.cosign]\nkeys = [\"s\"]\n[delegations.team-a]\nreference = \"registry.example/team-a/policy:prod\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(node); err == nil || !strings.Contains(err.Error(), "delegations go in the artifact") {
		t.Errorf("[delegations] beside [policy_source]: %v", err)
	}
}
