package verify_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/awskms"
	"github.com/signgate/signgate/keystore/kms/azurekms"
	"github.com/signgate/signgate/keystore/kms/gcpkms"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// kmsKey is one KMS with a key in it, as the rotation test drives it.
type kmsKey struct {
	ref      string
	provider kms.Provider
	signer   func() signature.Signer // signs with the current version
	rotate   func()                  // make a new version current
	revoke   func()                  // disable the version that was current before rotate
	versions func() (old, cur string)
}

func awsKey(t *testing.T) kmsKey {
	l := kmstest.StartLocalKMS(t)
	p, err := awskms.New(context.Background(), kms.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	k1 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k1)
	var k2 string
	return kmsKey{
		ref: "awskms:///alias/release", provider: p,
		signer:   func() signature.Signer { return l.Signer(t, "awskms:///alias/release") },
		rotate:   func() { k2 = l.CreateKey(t); l.PointAlias(t, "alias/release", k2) },
		revoke:   func() { l.DisableKey(t, k1) },
		versions: func() (string, string) { return k1, k2 },
	}
}

func vaultKey(t *testing.T) kmsKey {
	v := kmstest.NewVault(t)
	v.CreateKey(t, "release")
	cur := 1
	return kmsKey{
		ref: "hashivault://release", provider: v.Provider(t),
		signer:   func() signature.Signer { return v.Signer(t, "release", cur) },
		rotate:   func() { cur = v.Rotate(t, "release") },
		revoke:   func() { v.SetMinDecryptionVersion("release", 2) },
		versions: func() (string, string) { return "1", "2" },
	}
}

func gcpKey(t *testing.T) kmsKey {
	g := kmstest.NewGCP(t)
	p, err := gcpkms.New(context.Background(), kms.Settings{Endpoint: g.Endpoint, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	g.CreateKey(t, "release")
	cur := 1
	return kmsKey{
		ref: "gcpkms://" + kmstest.KeyName("release"), provider: p,
		signer:   func() signature.Signer { return g.Signer(t, "release", cur) },
		rotate:   func() { cur = g.AddVersion(t, "release") },
		revoke:   func() { g.SetState("release", 1, kmspb.CryptoKeyVersion_DISABLED) },
		versions: func() (string, string) { return "1", "2" },
	}
}

func azureKey(t *testing.T) kmsKey {
	a := kmstest.NewAzure(t)
	v1 := a.CreateKey(t, "release")
	cur := v1
	return kmsKey{
		ref: "azurekms://" + a.Host + "/release", provider: azurekms.NewWithCredential(a.Credential(), a.ClientOptions()),
		signer:   func() signature.Signer { return a.Signer(t, "release", cur) },
		rotate:   func() { cur = a.Rotate(t, "release") },
		revoke:   func() { a.SetEnabled("release", v1, false) },
		versions: func() (string, string) { return v1, cur },
	}
}

// A rotation and a revocation, end to end, in each KMS: a key created,
// rotated and disabled there, images signed with its versions, the key
// synced by keysync, and decisions made by the engine while syncs and
// keystore swaps run beside them (run with -race). AWS KMS is the local-kms
// emulator; the others are servers speaking their wire APIs to the real
// client libraries.
func TestKMSRotationAndRevocationThroughTheEngine(t *testing.T) {
	// Not parallel: local-kms is reached through the AWS environment (t.Setenv).
	for name, newKey := range map[string]func(*testing.T) kmsKey{"aws": awsKey, "vault": vaultKey, "gcp": gcpKey, "azure": azureKey} {
		t.Run(name, func(t *testing.T) { rotationAndRevocation(t, newKey(t)) })
	}
}

func rotationAndRevocation(t *testing.T, key kmsKey) {
	e := newEnv(t, false, 0)
	ctx := context.Background()
	cfg, err := setup.Parse("/etc/signgate/config.toml", fmt.Appendf(nil, `
[keys.release]
kms = %q
grace_period = "1h"

[[policy]]
name = "release"
scopes = ["%s/**"]
[policy.cosign]
keys = ["release"]
`, key.ref, e.host))
	if err != nil {
		t.Fatal(err)
	}
	scheme := cfg.KMSKeys[0].Ref.Scheme
	syncer, err := keysync.New(cfg.KMSKeys, map[string]kms.Provider{scheme: key.provider}, keysync.Options{StateDir: t.TempDir()})
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
	if err := sigtest.SignLegacyWith(key.signer(), old); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, engine, old), true, "verified by release")

	// Rotate: a new version is current, and signs the new image.
	key.rotate()
	fresh := e.image("team/new")
	if err := sigtest.SignLegacyWith(key.signer(), fresh); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, engine, fresh), false, "not by release")
	v1, v2 := key.versions()

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
	if !has(changes, keysync.Added, v2) || !has(changes, keysync.Rotated, v1) {
		t.Fatalf("rotation changes: %+v", changes)
	}
	engine.Swap(snapshot())
	// The old image is still allowed during the grace period; the new one
	// at once.
	v := decide(t, engine, old)
	want(t, v, true, "verified by release")
	if v.Cosign.Signatures[0].Versions["release"] != v1 {
		t.Fatalf("verified with %v, want the rotated-out %s", v.Cosign.Signatures[0].Versions, v1)
	}
	want(t, decide(t, engine, fresh), true, "verified by release")

	// Revoke: disable the old version. After the next sync its images are
	// denied, and no verdict cached before says otherwise.
	key.revoke()
	changes = syncKeys()
	if !has(changes, keysync.Revoked, v1) || len(changes) != 1 {
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
	if len(st) != 1 || len(st[0].Versions) != 1 || st[0].Versions[0].Version != v2 || !st[0].Versions[0].GraceUntil.IsZero() {
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
