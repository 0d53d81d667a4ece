package verify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/internal/kmstest"
	"github.com/signgate/signgate/internal/sigtest"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/awskms"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// A rotation and a revocation, end to end: keys created, rotated and
// disabled in the AWS KMS emulator, images signed through sigstore's AWS KMS
// signer, keys synced by keysync, and decisions made by the engine while
// syncs run beside them (run with -race).
func TestKMSRotationAndRevocationThroughTheEngine(t *testing.T) {
	l := kmstest.StartLocalKMS(t)
	e := newEnv(t, false, 0)
	ctx := context.Background()

	k1 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k1)
	cfg, err := config.Parse("/etc/signgate/config.toml", fmt.Appendf(nil, `
[keys.release]
kms = "awskms:///alias/release"
grace_period = "1h"

[[policy]]
name = "release"
scopes = ["%s/**"]
[policy.cosign]
keys = ["release"]
`, e.host))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := awskms.New(ctx, kms.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	syncer, err := keysync.New(cfg.KMSKeys, map[string]kms.Provider{awskms.Scheme: prov}, keysync.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	syncKeys := func() []keysync.Change {
		t.Helper()
		changes, err := syncer.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return changes
	}
	syncKeys()
	reg, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() *verify.Snapshot {
		t.Helper()
		snap, err := cfg.Snapshot(ctx, syncer.Keys()...)
		if err != nil {
			t.Fatal(err)
		}
		return snap
	}
	engine := verify.NewEngine(snapshot(), reg, verify.Options{})

	old := e.image("team/old")
	if err := sigtest.SignLegacyWith(l.Signer(t, "awskms:///alias/release"), old); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, engine, old), true, "verified by release")

	// Rotate: the alias now names a new key, which signs the new image.
	k2 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k2)
	fresh := e.image("team/new")
	if err := sigtest.SignLegacyWith(l.Signer(t, "awskms:///alias/release"), fresh); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, engine, fresh), false, "not by release")

	// Verifications run throughout the syncs and swaps that follow.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var decisions atomic.Int64
	for _, img := range []name.Digest{old, fresh} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				engine.Decide(ctx, verify.Request{Image: img})
				cancel()
				decisions.Add(1)
			}
		}()
	}

	changes := syncKeys()
	if !has(changes, keysync.Added, k2) || !has(changes, keysync.Rotated, k1) {
		t.Fatalf("rotation changes: %+v", changes)
	}
	engine.Swap(snapshot())
	// The old image is still allowed during the grace period; the new one
	// at once.
	v := decide(t, engine, old)
	want(t, v, true, "verified by release")
	if v.Cosign.Signatures[0].Versions["release"] != k1 {
		t.Fatalf("verified with %v, want the rotated-out %s", v.Cosign.Signatures[0].Versions, k1)
	}
	want(t, decide(t, engine, fresh), true, "verified by release")

	// Revoke: disable the old key. After the next sync its images are
	// denied, and no verdict cached before says otherwise.
	l.DisableKey(t, k1)
	changes = syncKeys()
	if !has(changes, keysync.Revoked, k1) || len(changes) != 1 {
		t.Fatalf("revocation changes: %+v", changes)
	}
	engine.Swap(snapshot())
	v = decide(t, engine, old)
	want(t, v, false, "not by release")
	if v.Cached {
		t.Fatal("a verdict from before the revocation was reused")
	}
	want(t, decide(t, engine, fresh), true, "verified by release")
	close(stop)
	wg.Wait()
	if decisions.Load() == 0 {
		t.Fatal("no decisions ran beside the syncs")
	}

	// What keys list shows: one version, current.
	st := syncer.Statuses()
	if len(st) != 1 || len(st[0].Versions) != 1 || st[0].Versions[0].Version != k2 || !st[0].Versions[0].GraceUntil.IsZero() {
		t.Fatalf("statuses: %+v", st)
	}
}

func has(changes []keysync.Change, kind keysync.ChangeKind, version string) bool {
	for _, c := range changes {
		if c.Kind == kind && c.Version == version && c.Key == "release" && strings.HasPrefix(c.Fingerprint, "sha256:") {
			return true
		}
	}
	return false
}
