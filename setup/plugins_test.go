package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/setup"
)

// A managed signing service's policy: its root as a signing_authority, the
// signing profiles as identities, its plugin by absolute path.
func TestNotationPluginsConfig(t *testing.T) {
	dir := t.TempDir()
	pki, err := sigtest.NewPKI("signing service")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "signer.pem", pki.RootPEM())
	plugin := write(t, dir, "notation-com.example.signer", "#!/bin/sh\n")
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := func(plugins, identities string) string {
		return `
[certs.signer]
kind = "signing_authority"
path = "signer.pem"
` + plugins + `
[[policy]]
name = "managed"
scopes = ["registry.example.com/**"]
  [policy.notation]
  certs = ["signer"]
  trusted_identities = ` + identities + `
`
	}
	good := cfg(`[notation_plugins."com.example.signer"]
path = "`+plugin+`"
certs = ["signer"]
timeout = "1s"
env = ["AWS_*", "GOOGLE_APPLICATION_CREDENTIALS"]
`, `["arn:aws:signer:us-west-2:123456789012:/signing-profiles/app"]`)
	c, err := setup.Load(write(t, dir, "good.toml", good))
	if err != nil {
		t.Fatal(err)
	}
	np := c.NotationPlugins["com.example.signer"]
	if np == nil || np.Path != plugin || np.Timeout != time.Second || np.CacheTTL != 5*time.Minute || len(np.Env) != 2 || np.Certs[0] != "signer" {
		t.Fatalf("plugin compiled wrongly: %+v", np)
	}
	snap, err := c.Snapshot(t.Context())
	if err != nil || snap.Plugins["com.example.signer"] != np {
		t.Fatalf("the snapshot does not carry the plugin: %v %+v", err, snap)
	}

	writable := write(t, dir, "notation-writable", "#!/bin/sh\n")
	if err := os.Chmod(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, toml, want string }{
		{"relative path", cfg("[notation_plugins.\"com.example.signer\"]\npath = \"notation-com.example.signer\"\n", `["arn:x"]`),
			`notation_plugins."com.example.signer".path = "notation-com.example.signer": give an absolute path`},
		{"no path", cfg("[notation_plugins.\"com.example.signer\"]\ntimeout = \"1s\"\n", `["arn:x"]`),
			`notation_plugins."com.example.signer".path = "": is required`},
		{"missing", cfg("[notation_plugins.x]\npath = \""+filepath.Join(dir, "nope")+"\"\n", `["arn:x"]`), `notation_plugins."x".path = "` + filepath.Join(dir, "nope") + `": stat`},
		{"writable", cfg("[notation_plugins.x]\npath = \""+writable+"\"\n", `["arn:x"]`), "writable by group or others"},
		{"not executable", cfg("[notation_plugins.x]\npath = \""+filepath.Join(dir, "signer.pem")+"\"\n", `["arn:x"]`), "not executable by its owner"},
		{"timeout", cfg("[notation_plugins.x]\npath = \""+plugin+"\"\ntimeout = \"6s\"\n", `["arn:x"]`), `notation_plugins."x".timeout = 6s: a verification runs the plugin twice within registry.verify_timeout (10s); give at most 5s`},
		{"name", cfg("[notation_plugins.\"../x\"]\npath = \""+plugin+"\"\n", `["arn:x"]`), `notation_plugins."../x": a plugin name is`},
		{"any identity", cfg("", `["*"]`), `policy[0] "managed".notation.trusted_identities: certificate "signer" is a signing authority's root`},
		{"no certs", cfg("[notation_plugins.x]\npath = \""+plugin+"\"\n", `["arn:x"]`), `notation_plugins."x".certs: is required`},
		{"unknown cert", cfg("[notation_plugins.x]\npath = \""+plugin+"\"\ncerts = [\"nope\"]\n", `["arn:x"]`), `notation_plugins."x".certs: certificate "nope" is not defined under [certs]`},
		{"env", cfg("[notation_plugins.x]\npath = \""+plugin+"\"\nenv = [\"AWS_*\", \"*\"]\n", `["arn:x"]`), `notation_plugins."x".env: "*" is not an environment variable's name`},
	} {
		_, err := setup.Load(write(t, dir, "bad.toml", tc.toml))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.toml") {
			t.Errorf("%s: got %v; want an error naming the file and saying %q", tc.name, err, tc.want)
		}
	}
}

// TestDocumentedManagedPoliciesLoad: docs/config.md's AWS Signer and
// short-lived-certificate policies load as written, given their files.
func TestDocumentedManagedPoliciesLoad(t *testing.T) {
	b, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pki, err := sigtest.NewPKI("example")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range []string{"/etc/signgate/aws-signer-notation-root.crt", "/etc/signgate/build-ca.pem", "/etc/signgate/tsa-root.pem"} {
		files[f] = write(t, dir, filepath.Base(f), pki.RootPEM())
	}
	plugin := "/usr/local/lib/signgate/notation-com.amazonaws.signer.notation.plugin"
	files[plugin] = write(t, dir, filepath.Base(plugin), "#!/bin/sh\n")
	if err := os.Chmod(files[plugin], 0o755); err != nil {
		t.Fatal(err)
	}
	for _, example := range []string{"# AWS Signer", "# short-lived certificates"} {
		i := strings.Index(string(b), "```toml\n"+example+"\n")
		if i < 0 {
			t.Fatalf("docs/config.md has no %q example", example)
		}
		body := string(b[i+len("```toml\n"):])
		body = body[:strings.Index(body, "```")]
		for doc, real := range files {
			body = strings.ReplaceAll(body, doc, real)
		}
		c, err := setup.Load(write(t, dir, "config.toml", body))
		if err != nil {
			t.Fatalf("%s: %v", example, err)
		}
		n := c.Policies[0].Notation
		switch example {
		case "# AWS Signer":
			if np := c.NotationPlugins["com.amazonaws.signer.notation.plugin"]; np == nil || np.Path != files[plugin] || np.Env[0] != "AWS_*" || n.Identities[0] != "arn:aws:signer:us-west-2:123456789012:/signing-profiles/release" {
				t.Fatalf("AWS Signer: plugin %+v, requirement %+v", np, n)
			}
		default:
			if len(n.TSA) != 1 || n.AfterCertExpiry {
				t.Fatalf("short-lived: %+v", n)
			}
		}
	}
}
