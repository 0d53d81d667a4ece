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

// An allowlist of what other NRI plugins may make the host run or a pod
// be given ([hooks] allowed_programs, [added_mounts] allowed_sources) is
// policy. `signgate policy build` carries it into the artifact, a node
// takes it from there, a policy built without it names no such key (a
// node that predates it would refuse one), the node's own file may not
// set it beside [policy_source], and a tenant's fragment may not at all.
type allowlist struct {
	section, key string
	good, bad    string // a listable entry, one refused at load
	tenants      string // an entry a tenant would like
	got          func(*setup.Config) []string
}

var (
	hookPrograms = allowlist{section: "hooks", key: "allowed_programs",
		good: "/usr/bin/nvidia-ctk", bad: "/bin/sh", tenants: "/usr/local/bin/tenant-hook",
		got: func(c *setup.Config) []string { return c.Hooks.AllowedPrograms }}
	addedMountSources = allowlist{section: "added_mounts", key: "allowed_sources",
		good: "/usr/lib/nvidia", bad: "/", tenants: "/srv/tenant",
		got: func(c *setup.Config) []string { return c.AddedMounts.AllowedSources }}
)

func (a allowlist) toml(entry string) string {
	return "[" + a.section + "]\n" + a.key + " = [\"" + entry + "\"]\n"
}

func TestBuiltPolicyCarriesHookPrograms(t *testing.T)      { builtPolicyCarries(t, hookPrograms) }
func TestBuiltPolicyCarriesAddedMountSources(t *testing.T) { builtPolicyCarries(t, addedMountSources) }
func TestTenantCannotAllowHookPrograms(t *testing.T)       { tenantCannotAllow(t, hookPrograms) }
func TestTenantCannotAllowAddedMountSources(t *testing.T)  { tenantCannotAllow(t, addedMountSources) }

func builtPolicyCarries(t *testing.T, a allowlist) {
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

	body := build(a.toml(a.good))
	c, err := setup.Compose(local, body, "sha256:listed")
	if err != nil {
		t.Fatal(err)
	}
	if got := a.got(c); !slices.Equal(got, []string{a.good}) {
		t.Errorf("the node's %s: %q, from\n%s", a.key, got, body)
	}
	// Without the section, no key: and the node allows nothing.
	body = build("")
	if strings.Contains(string(body), a.section) {
		t.Errorf("built without [%s], the artifact names it:\n%s", a.section, body)
	}
	if c, err = setup.Compose(local, body, "sha256:unlisted"); err != nil || len(a.got(c)) != 0 {
		t.Errorf("an artifact without [%s]: %v %q", a.section, err, a.got(c))
	}
	// An artifact listing what may not be listed is refused, naming it and the key.
	if _, err := setup.Compose(local, []byte("serial = 4\n"+a.toml(a.bad)), "sha256:bad"); err == nil ||
		!strings.Contains(err.Error(), "sha256:bad") || !strings.Contains(err.Error(), a.section+"."+a.key+"[0]") {
		t.Errorf("an artifact allowing %s: %v", a.bad, err)
	}
	// The node's own file may not set it beside [policy_source].
	if err := os.WriteFile(node, []byte(boot+a.toml(a.good)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(node); err == nil || !strings.Contains(err.Error(), node) || !strings.Contains(err.Error(), a.section+"."+a.key+" goes in the artifact") {
		t.Errorf("[%s] beside [policy_source]: %v", a.section, err)
	}
}

// A tenant's fragment allows nothing of the kind: only the root's may.
func tenantCannotAllow(t *testing.T, a allowlist) {
	d := config.DelegationSection{Reference: "r/p/t:1", Namespaces: []string{"t"}, Scopes: []string{"reg.example/t/**"}, Keys: []string{"s"}}
	tenant, err := config.ParseFragment("t", []byte("serial = 1\n"+a.toml(a.tenants)))
	if err != nil {
		t.Fatal(err)
	}
	var oe *policysource.OverreachError
	if _, _, err := policysource.Delegate("t", d, tenant); !errors.As(err, &oe) {
		t.Errorf("a tenant's fragment with [%s]: %v", a.section, err)
	}
}
