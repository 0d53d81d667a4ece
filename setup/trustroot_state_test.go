package setup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/testenv"
	"github.com/signgate/signgate/keystore/tufroot"
	"github.com/signgate/signgate/setup"
)

// tufConfig is a config with one trust root kept from a TUF mirror (never
// reached here) and an identity under it; it returns the config's path and
// the trust root's source.
func tufConfig(t *testing.T, extra string) (string, *tufroot.Source) {
	t.Helper()
	dir := t.TempDir()
	write(t, dir, "root.json", "{}") // only its existence is checked at load
	state := filepath.Join(dir, "state")
	body := fmt.Sprintf(`[daemon]
state_dir = %q
[trust_roots.mirror]
tuf_mirror = "https://tuf.invalid"
tuf_root = "root.json"
%s
[identities.release]
trust_root = "mirror"
issuer = "https://token.actions.githubusercontent.com"
subject = "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"
[[policy]]
name = "apps"
scopes = ["**"]
  [policy.cosign]
  identities = ["release"]
`, state, extra)
	return write(t, dir, "config.toml", body), &tufroot.Source{Name: "mirror", StateDir: state}
}

func keep(t *testing.T, src *tufroot.Source, verified, expires time.Time) []byte {
	t.Helper()
	b, err := os.ReadFile(writeTrustedRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(src.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := src.Keep(&tufroot.Kept{TrustedRoot: b, Verified: verified, Expires: expires}, verified); err != nil {
		t.Fatal(err)
	}
	return b
}

// A last-known-good trust root that someone other than signgate could have
// written (or that was edited, or has no checksum) is not used: an
// attacker-written root would make every identity under it trust the
// attacker's CA. It is no config error either (the next update replaces
// it); the warning names the file and why.
func TestKeptTrustRootIsChecked(t *testing.T) {
	now := time.Now()
	for name, c := range map[string]struct {
		spoil func(t *testing.T, src *tufroot.Source)
		want  string
	}{
		"world-writable": {func(t *testing.T, s *tufroot.Source) { chmodT(t, s.Path(), 0o666) }, "writable by others"},
		"in a writable directory": {func(t *testing.T, s *tufroot.Source) {
			chmodT(t, filepath.Dir(s.Path()), 0o777)
		}, "in a directory writable by others"},
		"owned by another user": {func(t *testing.T, s *tufroot.Source) {
			if os.Geteuid() != 0 {
				testenv.Skip(t, "giving a file to another user needs root")
			}
			if err := os.Chown(s.Path(), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
		"edited": {func(t *testing.T, s *tufroot.Source) {
			b, _ := os.ReadFile(s.Path())
			i := strings.Index(string(b), `"trusted_root": "`) + len(`"trusted_root": "`)
			b[i+10] ^= 1
			if err := os.WriteFile(s.Path(), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "checksum does not match"},
		"a bare trusted_root.json (no checksum)": {func(t *testing.T, s *tufroot.Source) {
			if err := os.WriteFile(s.Path(), []byte(mustRead(t, writeTrustedRoot(t))), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "no checksummed"},
	} {
		t.Run(name, func(t *testing.T) {
			path, src := tufConfig(t, "")
			keep(t, src, now, now.Add(time.Hour))
			if c, err := setup.Load(path); err != nil || c.TrustRoots["mirror"].Material == nil {
				t.Fatalf("the unspoilt copy is not loaded: %v", err)
			}
			c.spoil(t, src)
			cfg, err := setup.Load(path)
			if err != nil {
				t.Fatalf("a refused copy is a config error: %v", err)
			}
			if cfg.TrustRoots["mirror"].Material != nil {
				t.Fatal("the refused last-known-good trust root is in force")
			}
			snap, err := cfg.Snapshot(context.Background())
			if err != nil || snap.Signers["release"] != nil {
				t.Fatalf("an identity verifies under the refused trust root: %v", err)
			}
			w := strings.Join(cfg.Warnings(), "\n")
			if !strings.Contains(w, src.Path()) || !strings.Contains(w, c.want) {
				t.Fatalf("warnings do not name %s and %q:\n%s", src.Path(), c.want, w)
			}
		})
	}
}

// A kept trust root is trusted until max_staleness after the update that
// verified it, or by default until that update's TUF metadata expires.
func TestKeptTrustRootStaleness(t *testing.T) {
	verified := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	expires := verified.Add(7 * 24 * time.Hour)

	path, src := tufConfig(t, "")
	keep(t, src, verified, expires)
	cfg, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.TrustRoots["mirror"]
	if !tr.NotAfter.Equal(expires) || !tr.Verified.Equal(verified) || !strings.Contains(tr.Limit, "TUF metadata") {
		t.Fatalf("default staleness: until %v (%s), verified %v", tr.NotAfter, tr.Limit, tr.Verified)
	}
	if tr.Stale(expires.Add(-time.Second)) != "" || tr.Stale(expires) == "" {
		t.Fatal("not stale exactly from its metadata's expiry")
	}
	// Long past: check-config and the daemon's start say so.
	if w := strings.Join(cfg.Warnings(), "\n"); !strings.Contains(w, `trust root "mirror" is stale`) {
		t.Fatalf("warnings: %s", w)
	}

	path, src = tufConfig(t, `refresh = "1h"
max_staleness = "3h"`)
	keep(t, src, verified, expires)
	if cfg, err = setup.Load(path); err != nil {
		t.Fatal(err)
	}
	tr = cfg.TrustRoots["mirror"]
	if !tr.NotAfter.Equal(verified.Add(3*time.Hour)) || !strings.Contains(tr.Limit, "max_staleness 3h0m0s") {
		t.Fatalf("max_staleness: until %v (%s)", tr.NotAfter, tr.Limit)
	}

	for body, want := range map[string]string{
		"refresh = \"1h\"\nmax_staleness = \"90m\"": "at least twice refresh",
		"max_staleness = \"0s\"":                    "positive duration",
	} {
		path, _ := tufConfig(t, body)
		if _, err := setup.Load(path); err == nil || !strings.Contains(err.Error(), "trust_roots.mirror.max_staleness") || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: %v", body, err)
		}
	}
	path = write(t, t.TempDir(), "c.toml", "[trust_roots.f]\npath = \"x.json\"\nmax_staleness = \"1h\"\n")
	if _, err := setup.Load(path); err == nil || !strings.Contains(err.Error(), "apply only with tuf_mirror") {
		t.Fatalf("max_staleness on a file: %v", err)
	}
}

func chmodT(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
