package setup_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/setup"
)

// TestStartKeys: the daemon and every command start KMS keys through one
// function, so they read the same state, say when it is not used, and wait
// for the KMS as long as kms.request_timeout says, never
// registry.verify_timeout.
func TestStartKeys(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := setup.Parse(filepath.Join(dir, "config.toml"), fmt.Appendf(nil,
		"[daemon]\nstate_dir = %q\n[kms]\nrequest_timeout = \"40s\"\n[keys.release]\nkms = \"hashivault://release\"\n"+
			"[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"audit\"\n[policy.cosign]\nkeys = [\"release\"]\n", state))
	if err != nil {
		t.Fatal(err)
	}
	// The syncer's own per-key bound is out of the way: what bounds the
	// wait is StartKeys's.
	down := &kmstest.Down{}
	s, err := keysync.New(cfg.KMSKeys, map[string]kms.Provider{"hashivault": down}, keysync.Options{StateDir: state, ReadOnly: true, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	ks := setup.StartKeys(cfg, s, true)
	if !errors.Is(ks.StateErr, keysync.ErrNoState) || ks.StateIgnored() || ks.Deferred || ks.SyncErr == nil {
		t.Fatalf("no state, KMS down: %+v", ks)
	}
	if err := os.WriteFile(filepath.Join(state, keysync.StateFile), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ks := setup.StartKeys(cfg, s, false); !ks.StateIgnored() || ks.SyncErr == nil {
		t.Fatalf("a torn state file is not said to be ignored: %+v", ks)
	}
	waits := down.Waits()
	if len(waits) != 2 {
		t.Fatalf("the KMS was asked %d times, want once per start", len(waits))
	}
	for _, w := range waits {
		if w < 30*time.Second {
			t.Fatalf("waited %s for the KMS, want kms.request_timeout (40s)", w.Round(time.Second))
		}
	}
}
