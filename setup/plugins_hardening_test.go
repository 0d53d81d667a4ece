package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/internal/testkit/testenv"
	"github.com/signgate/signgate/setup"
)

func pluginCfg(t *testing.T, dir, plugin, kind string) string {
	pki, err := sigtest.NewPKI("svc")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "root.pem", pki.RootPEM())
	return write(t, dir, "c.toml", `
[certs.root]
kind = "`+kind+`"
path = "root.pem"
[notation_plugins."com.example.signer"]
path = "`+plugin+`"
certs = ["root"]
[[policy]]
name = "p"
scopes = ["registry.example.com/**"]
  [policy.notation]
  certs = ["root"]
  identities = ["x509.subject: C=US, ST=WA, O=Example, CN=build"]
`)
}

// the plugin executable may be owned by any uid (here nobody),
// sit in a directory anyone can write (no sticky bit), or be reached
// through a symlink in such a directory: all accepted.
func TestPluginExecutableOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root to chown")
	}
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o777)
	plugin := write(t, open, "notation-com.example.signer", "#!/bin/sh\n")
	os.Chmod(plugin, 0o755)
	if err := os.Chown(plugin, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Load(pluginCfg(t, dir, plugin, "signing_authority")); func() bool { t.Log(err); return err == nil }() {
		t.Errorf("a plugin owned by uid 65534 in a mode-0777 directory was accepted")
	}
	link := filepath.Join(open, "link")
	os.Symlink(plugin, link)
	if _, err := setup.Load(pluginCfg(t, dir, link, "signing_authority")); func() bool { t.Log(err); return err == nil }() {
		t.Errorf("a plugin reached through a symlink in a mode-0777 directory was accepted")
	}
}

// A plugin may be listed only for signing_authority roots: under a "ca"
// root any holder of a certificate under that CA could name the plugin
// (and forge the extended attributes it reads) so the plugin replaced
// notation's x509.subject identity check and its OCSP/CRL revocation check.
func TestPluginOnlyForSigningAuthorityRoots(t *testing.T) {
	dir := t.TempDir()
	plugin := write(t, dir, "notation-com.example.signer", "#!/bin/sh\n")
	os.Chmod(plugin, 0o755)
	_, err := setup.Load(pluginCfg(t, dir, plugin, "ca"))
	if err == nil || !strings.Contains(err.Error(), `notation_plugins."com.example.signer".certs: certificate "root" is of kind "ca"`) {
		t.Errorf("notation_plugins.certs naming a kind=\"ca\" root: %v", err)
	}
	if _, err := setup.Load(pluginCfg(t, dir, plugin, "signing_authority")); err != nil {
		t.Errorf("a signing_authority root: %v", err)
	}
}
