package policysource_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// [hooks] allowed_programs decides what runs on the host as root: it is
// policy. `signgate policy build` carries it into the artifact, a node
// takes it from there, a policy built without it names no hooks key (a
// node that predates it would refuse one), and the node's own file may
// not set it beside [policy_source].
func TestBuiltPolicyCarriesHookPrograms(t *testing.T) {
	dir := t.TempDir()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "k1.pub"), []byte(s.PublicPEM()), 0o644); err != nil {
		t.Fatal(err)
	}
	const pol = "[keys.k1]\npath = \"k1.pub\"\n[[policy]]\nname = \"apps\"\nscopes = [\"registry.example/**\"]\n[policy.cosign]\nkeys = [\"k1\"]\n"
	build := func(extra string) []byte {
		t.Helper()
		src := filepath.Join(dir, "policy-src.toml")
		if err := os.WriteFile(src, []byte(pol+extra), 0o644); err != nil {
			t.Fatal(err)
		}
		cc, err := config.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		body, err := policysource.FromConfig(cc, 3, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	node := filepath.Join(dir, "node.toml")
	boot := "[daemon]\nstate_dir = \"" + filepath.Join(dir, "state") + "\"\n[keys.security]\npath = \"k1.pub\"\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\n[policy_source.cosign]\nkeys = [\"security\"]\n"
	if err := os.WriteFile(node, []byte(boot), 0o644); err != nil {
		t.Fatal(err)
	}
	local, err := config.Load(node)
	if err != nil {
		t.Fatal(err)
	}

	body := build("[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\"]\n")
	c, err := setup.Compose(local, body, "sha256:hooks")
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if !slices.Equal(c.Hooks.AllowedPrograms, []string{"/usr/bin/nvidia-ctk"}) {
		t.Errorf("the node's allowed hook programs: %q, from\n%s", c.Hooks.AllowedPrograms, body)
	}
	// Without [hooks], no key: and the node allows no hook program.
	body = build("")
	if strings.Contains(string(body), "hooks") {
		t.Errorf("built without [hooks], the artifact names it:\n%s", body)
	}
	if c, err = setup.Compose(local, body, "sha256:nohooks"); err != nil || len(c.Hooks.AllowedPrograms) != 0 {
		t.Errorf("an artifact without [hooks]: %v %q", err, c.Hooks.AllowedPrograms)
	}
	// An artifact listing an interpreter is refused, naming it and the key.
	if _, err := setup.Compose(local, []byte("serial = 4\n[hooks]\nallowed_programs = [\"/bin/sh\"]\n"), "sha256:sh"); err == nil ||
		!strings.Contains(err.Error(), "sha256:sh") || !strings.Contains(err.Error(), "hooks.allowed_programs[0]") {
		t.Errorf("an artifact allowing /bin/sh: %v", err)
	}
	// The node's file cannot widen the signed policy.
	if err := os.WriteFile(node, []byte(boot+"[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(node); err == nil || !strings.Contains(err.Error(), node) || !strings.Contains(err.Error(), "hooks.allowed_programs goes in the artifact") {
		t.Errorf("[hooks] beside [policy_source]: %v", err)
	}
}

// A tenant's fragment allows no host program: only the root's may.
func TestTenantCannotAllowHookPrograms(t *testing.T) {
	d := config.DelegationSection{Reference: "r/p/t:1", Namespaces: []string{"t"}, Scopes: []string{"reg.example/t/**"}, Keys: []string{"s"}}
	tenant, err := config.ParseFragment("t", []byte("serial = 1\n[hooks]\nallowed_programs = [\"/usr/local/bin/tenant-hook\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var oe *policysource.OverreachError
	if _, _, err := policysource.Delegate("t", d, tenant); !errors.As(err, &oe) {
		t.Errorf("a tenant's fragment with [hooks]: %v", err)
	}
}
