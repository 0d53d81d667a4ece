package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/sigtest"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pub(t *testing.T) string {
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicPEM()
}

func TestValidConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "release.pub", pub(t))
	p := write(t, dir, "config.toml", `
[daemon]
decision_deadline = "1200ms"

[keys.build]
pem = """`+pub(t)+`"""
[keys.release]
path = "release.pub"

[[policy]]
name = "sandbox"
scopes = ["localhost:5000/pause"]
mode = "allow"

[[policy]]
name = "prod"
scopes = ["registry.example.com/team/*", "*.example.com/**"]
[policy.cosign]
keys = ["build", "release"]
require = "all"
`)
	c, err := config.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policies) != 2 || c.Policies[1].Cosign.Threshold != 2 || c.Daemon.DecisionDeadline.Milliseconds() != 1200 {
		t.Fatalf("parsed wrongly: %+v", c)
	}
	if p := c.Policies.Match("registry.example.com/team/app", ""); p == nil || p.Name != "prod" {
		t.Fatalf("match: %+v", p)
	}
	snap, err := c.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := snap.Keys.Get("release"); !ok || !strings.HasPrefix(k.Source, "file:") {
		t.Fatalf("release key: %+v", k)
	}
}

func TestConfigErrorsNameTheFault(t *testing.T) {
	good := pub(t)
	cases := []struct{ name, body, want string }{
		{"unknown key", "[daemon]\nnri_sokcet = \"x\"\n", "unknown key(s): daemon.nri_sokcet"},
		{"syntax", "[daemon]\nnri_socket = \"x\"\n[daemon\n", "config.toml:4"},
		{"bad duration", "[cache]\nallow_ttl = \"ten minutes\"\n", "cache.allow_ttl = \"ten minutes\""},
		{"deadline too long", "[daemon]\ndecision_deadline = \"3s\"\n", "shorter than containerd's NRI request timeout"},
		{"bad glob", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/a/[ab]\"]\nmode = \"allow\"\n", `policy[0] "p".scopes: scope "reg.io/a/[ab]"`},
		{"undefined key", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"nope\"]\n", `policy[0] "p".cosign.keys: key "nope" is not defined`},
		{"malformed pem", "[keys.k]\npem = \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"\n", `keys.k: key "k" (inline): malformed public key`},
		{"private key", "[keys.k]\npem = \"\"\"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n\"\"\"\n", "a private key must never be given"},
		{"missing key file", "[keys.k]\npath = \"/nonexistent/k.pub\"\n", `keys.k: key "k": open /nonexistent/k.pub`},
		{"count above keys", "[keys.a]\npem = \"\"\"" + good + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"a\"]\nrequire = \"2\"\n", "require = 2 but only 1 keys"},
		{"bad mode", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\nmode = \"warn\"\n", `mode = "warn"`},
		{"verifying policy without requirement", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n", `needs a [policy.cosign] requirement`},
		{"no policy", "", "no [[policy]] is defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, t.TempDir(), "config.toml", c.body)
			_, err := config.Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.toml") {
				t.Fatalf("error %q does not contain %q and the file name", err, c.want)
			}
		})
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	c, err := config.Load("../packaging/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policies) == 0 {
		t.Fatal("example has no policies")
	}
}
