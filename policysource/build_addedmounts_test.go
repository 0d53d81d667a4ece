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

// [added_mounts] allowed_sources decides which host directories a pod may
// be given by another plugin: it is policy, like [hooks]. `signgate policy
// build` carries it into the artifact, a node takes it from there, a
// policy built without it names no such key, and the node's own file may
// not set it beside [policy_source].
func TestBuiltPolicyCarriesAddedMountSources(t *testing.T) {
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

	body := build("[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\"]\n")
	c, err := setup.Compose(local, body, "sha256:mounts")
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if !slices.Equal(c.AddedMounts.AllowedSources, []string{"/usr/lib/nvidia"}) {
		t.Errorf("the node's allowed sources: %q, from\n%s", c.AddedMounts.AllowedSources, body)
	}
	// Without [added_mounts], no key: and the node allows no source.
	body = build("")
	if strings.Contains(string(body), "added_mounts") {
		t.Errorf("built without [added_mounts], the artifact names it:\n%s", body)
	}
	if c, err = setup.Compose(local, body, "sha256:nomounts"); err != nil || len(c.AddedMounts.AllowedSources) != 0 {
		t.Errorf("an artifact without [added_mounts]: %v %q", err, c.AddedMounts.AllowedSources)
	}
	// An artifact listing / is refused, naming it and the key.
	if _, err := setup.Compose(local, []byte("serial = 4\n[added_mounts]\nallowed_sources = [\"/\"]\n"), "sha256:root"); err == nil ||
		!strings.Contains(err.Error(), "sha256:root") || !strings.Contains(err.Error(), "added_mounts.allowed_sources[0]") {
		t.Errorf("an artifact allowing /: %v", err)
	}
	// The node's file cannot widen the signed policy.
	if err := os.WriteFile(node, []byte(boot+"[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(node); err == nil || !strings.Contains(err.Error(), node) || !strings.Contains(err.Error(), "added_mounts.allowed_sources goes in the artifact") {
		t.Errorf("[added_mounts] beside [policy_source]: %v", err)
	}
}

// A tenant's fragment allows no host directory: only the root's may.
func TestTenantCannotAllowAddedMountSources(t *testing.T) {
	d := config.DelegationSection{Reference: "r/p/t:1", Namespaces: []string{"t"}, Scopes: []string{"reg.example/t/**"}, Keys: []string{"s"}}
	tenant, err := config.ParseFragment("t", []byte("serial = 1\n[added_mounts]\nallowed_sources = [\"/srv/tenant\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var oe *policysource.OverreachError
	if _, _, err := policysource.Delegate("t", d, tenant); !errors.As(err, &oe) {
		t.Errorf("a tenant's fragment with [added_mounts]: %v", err)
	}
}
