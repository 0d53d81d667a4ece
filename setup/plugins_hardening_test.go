package setup_test

import (
	"crypto/sha256"
	"encoding/hex"
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
  trusted_identities = ["x509.subject: C=US, ST=WA, O=Example, CN=build"]
`)
}

// The plugin executable, every directory its path passes through and
// every symbolic link's directory are owned by root or signgate's user and
// writable by no one else (a sticky directory such as /tmp passes for what
// root owns in it); otherwise another user could swap in another program.
func TestPluginExecutableOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Skip(t, "needs root to chown")
	}
	dir := t.TempDir() // under /tmp: sticky, and root's own below
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good")
	if err := os.Mkdir(good, 0o755); err != nil {
		t.Fatal(err)
	}
	plugin := write(t, good, "notation-com.example.signer", "#!/bin/sh\n")
	nobodys := write(t, good, "nobodys", "#!/bin/sh\n")
	inOpen := write(t, open, "notation-com.example.signer", "#!/bin/sh\n")
	for _, p := range []string{plugin, nobodys, inOpen} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(nobodys, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	linkInOpen := filepath.Join(open, "link")
	if err := os.Symlink(plugin, linkInOpen); err != nil {
		t.Fatal(err)
	}
	// A link in a good directory to a link in the open one.
	viaOpen := filepath.Join(good, "via-open")
	if err := os.Symlink(linkInOpen, viaOpen); err != nil {
		t.Fatal(err)
	}
	relative := filepath.Join(good, "relative")
	if err := os.Symlink("../good/./notation-com.example.signer", relative); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Load(pluginCfg(t, dir, plugin, "signing_authority")); err != nil {
		t.Fatalf("root's plugin in root's directory under /tmp: %v", err)
	}
	c, err := setup.Load(pluginCfg(t, dir, relative, "signing_authority"))
	if err != nil {
		t.Fatalf("a relative link within trusted directories: %v", err)
	}
	if np := c.NotationPlugins["com.example.signer"]; np.Resolved != plugin || np.Path != relative {
		t.Errorf("resolved %q, path %q; want %q, %q", np.Resolved, np.Path, plugin, relative)
	}
	for path, why := range map[string]string{
		nobodys:    "owned by uid 65534",
		inOpen:     open + " is writable by others",
		linkInOpen: open + " is writable by others",
		viaOpen:    open + " is writable by others",
	} {
		_, err := setup.Load(pluginCfg(t, dir, path, "signing_authority"))
		if err == nil || !strings.Contains(err.Error(), `notation_plugins."com.example.signer".path = "`+path+`"`) || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: %v; want it refused: %s", path, err, why)
		}
	}
}

// sha256 pins the executable's content.
func TestPluginSHA256Pin(t *testing.T) {
	dir := t.TempDir()
	plugin := write(t, dir, "notation-com.example.signer", "#!/bin/sh\n")
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("#!/bin/sh\n"))
	pinned := func(pin string) string {
		b, err := os.ReadFile(pluginCfg(t, dir, plugin, "signing_authority"))
		if err != nil {
			t.Fatal(err)
		}
		return write(t, dir, "c.toml", strings.Replace(string(b), "certs = [\"root\"]\n[[policy]]", "certs = [\"root\"]\nsha256 = \""+pin+"\"\n[[policy]]", 1))
	}
	if _, err := setup.Load(pinned(hex.EncodeToString(sum[:]))); err != nil {
		t.Fatalf("the right pin: %v", err)
	}
	other := sha256.Sum256([]byte("another"))
	if _, err := setup.Load(pinned(hex.EncodeToString(other[:]))); err == nil || !strings.Contains(err.Error(), "not the sha256 the config pins") {
		t.Errorf("another pin: %v", err)
	}
	if _, err := setup.Load(pinned("abc")); err == nil || !strings.Contains(err.Error(), `notation_plugins."com.example.signer".sha256 = "abc"`) {
		t.Errorf("a malformed pin: %v", err)
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

// tsa is refused for a policy whose roots are all signing authorities':
// notation never checks a timestamp on their signatures.
func TestTSAUnderSigningAuthorityRefused(t *testing.T) {
	dir := t.TempDir()
	plugin := write(t, dir, "notation-com.example.signer", "#!/bin/sh\n")
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	tsa, err := sigtest.NewPKI("tsa")
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "tsa.pem", tsa.RootPEM())
	b, err := os.ReadFile(pluginCfg(t, dir, plugin, "signing_authority"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "[[policy]]", "[certs.tsa]\nkind = \"tsa\"\npath = \"tsa.pem\"\n[[policy]]", 1)
	cfg = strings.Replace(cfg, `  certs = ["root"]
  trusted_identities`, `  certs = ["root"]
  tsa = ["tsa"]
  trusted_identities`, 1)
	_, err = setup.Load(write(t, dir, "c.toml", cfg))
	if err == nil || !strings.Contains(err.Error(), `policy[0] "p".notation.tsa: every root listed is a signing_authority`) {
		t.Fatalf("tsa with only signing_authority roots: %v", err)
	}
}

// cache_ttl is at most an hour: a revoked signing profile is believed
// valid on a node for up to cache.allow_ttl + cache_ttl.
func TestPluginCacheTTLIsCapped(t *testing.T) {
	dir := t.TempDir()
	plugin := write(t, dir, "notation-com.example.signer", "#!/bin/sh\n")
	if err := os.Chmod(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	ttl := func(d string) string {
		b, err := os.ReadFile(pluginCfg(t, dir, plugin, "signing_authority"))
		if err != nil {
			t.Fatal(err)
		}
		return write(t, dir, "c.toml", strings.Replace(string(b), "certs = [\"root\"]\n[[policy]]", "certs = [\"root\"]\ncache_ttl = \""+d+"\"\n[[policy]]", 1))
	}
	if _, err := setup.Load(ttl("1h")); err != nil {
		t.Fatalf("1h: %v", err)
	}
	if _, err := setup.Load(ttl("24h")); err == nil || !strings.Contains(err.Error(), `notation_plugins."com.example.signer".cache_ttl = 24h0m0s: at most 1h0m0s`) {
		t.Fatalf("24h: %v", err)
	}
}
