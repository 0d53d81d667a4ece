package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	_ "github.com/signgate/signgate/keystore/kms/vaultkms"
)

// syncedBuffer is a log that tests read while the daemon writes.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kmsDaemon starts a daemon (without containerd: nothing here dials it)
// whose policy needs the Vault key "release".
func kmsDaemon(t *testing.T, dir, extra string) (*Daemon, *syncedBuffer, string) {
	t.Helper()
	return kmsDaemonFor(t, dir, extra, "hashivault://release")
}

// kmsDaemonFor is kmsDaemon with the key "release" at ref.
func kmsDaemonFor(t *testing.T, dir, extra, ref string) (*Daemon, *syncedBuffer, string) {
	t.Helper()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf(`[daemon]
containerd_socket = %q
nri_socket = %q
state_dir = %q
metrics_address = ""
[kms]
request_timeout = "2s"
%s
[keys.release]
kms = %q
[[policy]]
name = "release"
scopes = ["**"]
[policy.cosign]
keys = ["release"]
`, filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), extra, ref)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	log := &syncedBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(log, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("signgate did not start: %v", err)
	}
	return d, log, cfg
}

func states(d *Daemon) string {
	var out []string
	for _, k := range d.Keys() {
		out = append(out, k.Version+" "+strings.SplitN(k.State, " ", 2)[0])
	}
	return strings.Join(out, ", ")
}

// A provider that cannot be built (here: a CA file with no certificate)
// must not stop signgate from starting, which would block every container on
// the node; the key has no trusted version and says why.
func TestStartsWhenAKMSProviderCannotBeBuilt(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, log, _ := kmsDaemon(t, dir, fmt.Sprintf("[kms.vault]\naddress = \"https://127.0.0.1:1\"\nca_file = %q\n", bad))
	keys := d.Keys()
	if len(keys) != 1 || !strings.Contains(keys[0].State, "untrusted") || !strings.Contains(keys[0].State, "ca_file") {
		t.Fatalf("keys: %+v", keys)
	}
	if !strings.Contains(log.String(), "change=untrusted key=release") {
		t.Fatalf("log:\n%s", log)
	}
}

// Reload (SIGHUP) syncs; a sync puts changes in force; a restart with Vault
// sealed starts at once on the last-known-good keys.
func TestReloadAndSyncFollowTheKMS(t *testing.T) {
	v := kmstest.NewVaultKey(t, "release")
	dir := t.TempDir()
	extra := fmt.Sprintf("[kms.vault]\naddress = %q\n", v.URL)
	d, _, _ := kmsDaemon(t, dir, extra)
	if got := states(d); got != "1 current" {
		t.Fatalf("at start: %s", got)
	}
	snap := d.Engine().Snapshot().ID

	v.Rotate(t, "release")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := states(d); got != "2 current, 1 grace" {
		t.Fatalf("after a reload: %s", got)
	}
	if d.Engine().Snapshot().ID == snap {
		t.Fatal("the reload's sync did not change the keystore in force")
	}

	v.SetMinDecryptionVersion("release", 2)
	changes, err := d.SyncKeys(t.Context())
	if err != nil || len(changes) != 1 || changes[0].Kind != "revoked" {
		t.Fatalf("sync: %+v %v", changes, err)
	}
	if n := len(d.Engine().Snapshot().Keys.Versions("release")); n != 1 {
		t.Fatalf("the engine trusts %d versions after the revocation", n)
	}

	// Restart with Vault sealed: the state holds every key, so signgate
	// starts on it without asking Vault, and leaves the sync to its loop.
	v.SetDown(true)
	before := v.Requests.Load()
	d2, log, _ := kmsDaemon(t, dir, extra)
	if n := v.Requests.Load() - before; n != 0 || !d2.syncSoon.Load() {
		t.Fatalf("start on last-known-good keys asked Vault %d times first", n)
	}
	if got := states(d2); got != "2 current" || len(d2.Engine().Snapshot().Keys.Versions("release")) != 1 {
		t.Fatalf("restart with Vault sealed: %s", got)
	}
	// The loop's first round then reports the outage.
	_, _ = d2.SyncKeys(t.Context())
	d2.reportStart(d2.syncer.Load())
	if !strings.Contains(log.String(), "change=last_known_good key=release") {
		t.Fatalf("log:\n%s", log)
	}
}

// An openbao:// key is read with the [kms.vault] settings, as a
// hashivault:// one is: both schemes are the Vault provider's.
func TestOpenBaoKeysGetTheVaultSettings(t *testing.T) {
	v := kmstest.NewVault(t)
	t.Setenv("VAULT_TOKEN", v.Token)
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1") // where the SDK would go without the settings
	v.CreateKey(t, "release")
	d, _, _ := kmsDaemonFor(t, t.TempDir(), fmt.Sprintf("[kms.vault]\naddress = %q\n", v.URL), "openbao://release")
	if _, err := d.SyncKeys(t.Context()); err != nil {
		t.Fatalf("sync of an openbao:// key: %v", err)
	}
	if got := states(d); got != "1 current" {
		t.Fatalf("openbao:// key: %s", got)
	}
}
