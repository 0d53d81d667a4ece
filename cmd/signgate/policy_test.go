package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/testkit/sigtest"
)

// A policy built from a config is previewed against a node before it is
// signed: --policy decides under the artifact, --compare takes the node's
// config (its policy in force: none yet, so every image denied) or another
// artifact.
func TestPolicyBuildThenPreview(t *testing.T) {
	dir := t.TempDir()
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	write := func(n, body string) string {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("security.pub", s.PublicPEM())
	src := writeConfig(t, allowAll)
	built := filepath.Join(dir, "policy.toml")
	if r := signgate(t, nil, "policy", "build", "--from", src, "--serial", "3", "--out", built); r.code != 0 {
		t.Fatalf("policy build: exit %d\n%s", r.code, r.stderr)
	}
	if r := signgate(t, nil, "policy", "build", "--from", src); r.code != 2 || !strings.Contains(r.stderr, "--serial 0") {
		t.Errorf("policy build without a serial: exit %d\n%s", r.code, r.stderr)
	}
	node := write("node.toml", fmt.Sprintf("[daemon]\nstate_dir = %q\n[keys.security]\npath = \"security.pub\"\n[policy_source]\nreference = \"example.com/signgate/policy:prod\"\n[policy_source.cosign]\nkeys = [\"security\"]\n", filepath.Join(dir, "state")))
	if r := signgate(t, nil, "check-config", "--config", node); r.code != 0 || !strings.Contains(r.stdout, "policy: from example.com/signgate/policy:prod; none verified on this node yet") {
		t.Errorf("check-config on the node: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	images := write("images", digestRef+"\n")
	r := signgate(t, nil, "preview", "--config", node, "--policy", built, "--compare", node, "--images", images, "--output", "json")
	var out previewOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || len(out.Images) != 1 {
		t.Fatalf("preview --policy --compare NODE: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if row := out.Images[0]; !row.New.Allowed || row.Current.Allowed || row.Current.Cause != "no_policy" {
		t.Errorf("new %+v, current %+v", row.New, row.Current)
	}
	// The artifact against itself: nothing changes.
	r = signgate(t, nil, "preview", "--config", node, "--policy", built, "--compare", built, "--images", images, "--output", "json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 || len(out.Images) != 0 {
		t.Fatalf("preview --compare ARTIFACT: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
}

// policy build reads the policy's own config from --from: --config means
// the node's config in every other command, so it is refused, naming
// --from, and nothing is built. Unless told, the built policy expires
// (nodes refuse one that never does).
func TestPolicyBuildTakesFrom(t *testing.T) {
	src := writeConfig(t, allowAll)
	out := filepath.Join(t.TempDir(), "policy.toml")
	r := signgate(t, nil, "policy", "build", "--config", src, "--serial", "3", "--out", out)
	if r.code != 2 || !strings.Contains(r.stderr, "--from") {
		t.Errorf("policy build --config: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("policy build --config wrote a policy")
	}
	if r := signgate(t, nil, "policy", "build", "--serial", "3"); r.code != 2 || !strings.Contains(r.stderr, "--from is required") {
		t.Errorf("policy build without --from: exit %d\n%s", r.code, r.stderr)
	}
	if r := signgate(t, nil, "policy", "build", "--from", src, "--serial", "3", "--out", out); r.code != 0 {
		t.Fatalf("policy build --from: exit %d\n%s", r.code, r.stderr)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.ParseFragment(out, body)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(f.Expires); d < config.DefaultPolicyBuildExpires-time.Hour || d > config.DefaultPolicyBuildExpires {
		t.Errorf("built without --expires, it expires at %s", f.Expires)
	}
	r = signgate(t, nil, "policy", "build", "--from", src, "--serial", "3", "--expires", "0", "--out", out)
	if body, _ := os.ReadFile(out); r.code != 0 || strings.Contains(string(body), "expires") || !strings.Contains(r.stderr, "allow_no_expires_unsafe") {
		t.Errorf("policy build --expires 0: exit %d\n%s\n%s", r.code, r.stderr, body)
	}
}

// policy build refuses an expiry beyond the default max_validity (nodes
// would refuse it, expires_too_far) unless --beyond-max-validity.
func TestPolicyBuildBoundsExpires(t *testing.T) {
	src := writeConfig(t, allowAll)
	out := filepath.Join(t.TempDir(), "policy.toml")
	far := (config.DefaultPolicyMaxValidity + time.Hour).String()
	if r := signgate(t, nil, "policy", "build", "--from", src, "--serial", "3", "--expires", far, "--out", out); r.code != 2 || !strings.Contains(r.stderr, "max_validity") {
		t.Errorf("policy build --expires %s: exit %d\n%s", far, r.code, r.stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("policy build beyond max_validity wrote a policy")
	}
	if r := signgate(t, nil, "policy", "build", "--from", src, "--serial", "3", "--expires", far, "--beyond-max-validity", "--out", out); r.code != 0 {
		t.Errorf("policy build --beyond-max-validity: exit %d\n%s", r.code, r.stderr)
	}
}

// A built policy's expires always carries an offset (UTC), whatever the
// zone of the machine that built it; a hand-written artifact whose expires
// has none is refused by push, naming the file and the key, as nodes
// would refuse it.
func TestPolicyExpiresCarriesAnOffset(t *testing.T) {
	src := writeConfig(t, allowAll)
	dir := t.TempDir()
	out := filepath.Join(dir, "policy.toml")
	if r := signgate(t, []string{"TZ=Asia/Kolkata"}, "policy", "build", "--from", src, "--serial", "3", "--out", out); r.code != 0 {
		t.Fatalf("policy build: exit %d\n%s", r.code, r.stderr)
	}
	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^expires = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).Match(body) {
		t.Errorf("built under TZ=Asia/Kolkata, its expires is not in UTC:\n%s", body)
	}
	local := filepath.Join(dir, "local.toml")
	if err := os.WriteFile(local, []byte("serial = 4\nexpires = 2027-01-01T00:00:00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := signgate(t, nil, "policy", "push", "--config", src, "--file", local, "registry.example/signgate/policy:prod")
	if r.code != 2 || !strings.Contains(r.stderr, local) || !strings.Contains(r.stderr, "expires has no offset") {
		t.Errorf("policy push of an expires without offset: exit %d\n%s", r.code, r.stderr)
	}
}
