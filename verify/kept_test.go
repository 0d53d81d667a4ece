package verify_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// keptEnv signs team a's image with k1 and team b's with k2, under one
// policy per team bound to key "a" and key "b".
type keptEnv struct {
	*env
	imgA, imgB name.Digest
	policies   verify.Policies
}

func newKeptEnv(t *testing.T) *keptEnv {
	e := &keptEnv{env: newEnv(t, false, 3)}
	e.imgA, e.imgB = e.image("team-a/app"), e.image("team-b/app")
	if err := e.signers["k1"].SignLegacy(e.imgA); err != nil {
		t.Fatal(err)
	}
	if err := e.signers["k2"].SignLegacy(e.imgB); err != nil {
		t.Fatal(err)
	}
	for _, team := range []string{"a", "b"} {
		sc, err := verify.ParseScope(e.host + "/team-" + team + "/*")
		if err != nil {
			t.Fatal(err)
		}
		e.policies = append(e.policies, verify.Policy{Name: team, Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Cosign: &verify.CosignRequirement{Keys: []string{team}, Threshold: 1}})
	}
	return e
}

// snap trusts key a as signer sa and key b as k2, under config cfg1.
func (e *keptEnv) snap(sa string) *verify.Snapshot {
	e.t.Helper()
	var keys []*keystore.Key
	for name, signer := range map[string]string{"a": sa, "b": "k2"} {
		k, err := keystore.ParsePublicKeyPEM(name, "kms", []byte(e.signers[signer].PublicPEM()))
		if err != nil {
			e.t.Fatal(err)
		}
		k.Version = signer
		keys = append(keys, k)
	}
	st, err := keystore.NewStore(keys...)
	if err != nil {
		e.t.Fatal(err)
	}
	return &verify.Snapshot{ID: "s-" + sa, Config: "cfg1", Policies: e.policies, Keys: st}
}

func (e *keptEnv) engine(snap *verify.Snapshot, now func() time.Time) *verify.Engine {
	c, err := registry.New(registry.Config{})
	if err != nil {
		e.t.Fatal(err)
	}
	return verify.NewEngine(snap, c, verify.Options{Now: now, AllowTTL: time.Hour})
}

// roundTrip is what a restart does to kept verdicts: JSON out and back.
func roundTrip(t *testing.T, kept []verify.Kept) []verify.Kept {
	t.Helper()
	data, err := json.Marshal(kept)
	if err != nil {
		t.Fatal(err)
	}
	var out []verify.Kept
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKeptVerdictsNeedNoRegistryAfterARestart(t *testing.T) {
	t.Parallel()
	e := newKeptEnv(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	first := e.engine(e.snap("k1"), clock)
	want(t, decide(t, first, e.imgA), true, "verified by")
	want(t, decide(t, first, e.imgB), true, "verified by")
	kept, gen := first.Kept()
	if len(kept) != 2 {
		t.Fatalf("kept %d verdicts, want 2: %+v", len(kept), kept)
	}
	if again, gen2 := first.Kept(); gen2 != gen || len(again) != 2 {
		t.Fatalf("generation moved without a change: %d then %d", gen, gen2)
	}
	kept = roundTrip(t, kept)
	// The registry is gone: whatever the new engine asks it fails.
	e.srv.Close()
	now = now.Add(30 * time.Minute)
	second := e.engine(e.snap("k1"), clock)
	if n, errs := second.Restore(kept); n != 2 || len(errs) != 0 {
		t.Fatalf("restored %d (%v), want 2", n, errs)
	}
	for _, img := range []name.Digest{e.imgA, e.imgB} {
		v := decide(t, second, img)
		if !v.Allowed || !v.Cached || v.Cause != verify.CauseVerified {
			t.Fatalf("%s after a restart: %+v", img, v)
		}
		if len(v.VerifiedBy()) == 0 {
			t.Fatalf("%s: the restored verdict lost what verified it: %+v", img, v)
		}
	}
	if n := second.Verifications.Load(); n != 0 {
		t.Fatalf("the restarted engine ran %d verifications, want 0", n)
	}
	// They expire when they did before the restart.
	now = now.Add(31 * time.Minute)
	if v := decide(t, second, e.imgA); v.Cached || v.Allowed {
		t.Fatalf("a kept verdict outlived its allow_ttl: %+v", v)
	}
}

func TestKeptVerdictsAreDroppedWhenWhatTheyRestedOnChanged(t *testing.T) {
	t.Parallel()
	e := newKeptEnv(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	first := e.engine(e.snap("k1"), clock)
	want(t, decide(t, first, e.imgA), true, "verified by")
	want(t, decide(t, first, e.imgB), true, "verified by")
	kept, _ := first.Kept()
	kept = roundTrip(t, kept)

	// Key a rotated to k3 while signgate was down: team a's image is judged
	// anew (and denied: it is signed by k1 only); team b's is not.
	rotated := e.engine(e.snap("k3"), clock)
	n, errs := rotated.Restore(kept)
	if n != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "team-a/app") || !strings.Contains(errs[0].Error(), "have changed") {
		t.Fatalf("restored %d, errors %v; want team b's only, team a's named as changed", n, errs)
	}
	if v := decide(t, rotated, e.imgA); v.Allowed || v.Cached {
		t.Fatalf("team a's verdict survived its key's rotation across a restart: %+v", v)
	}
	if v := decide(t, rotated, e.imgB); !v.Cached {
		t.Fatalf("team b's verdict was dropped: %+v", v)
	}

	// A config change drops every one.
	other := e.snap("k1")
	other.Config = "cfg2"
	if n, _ := e.engine(other, clock).Restore(kept); n != 0 {
		t.Fatalf("restored %d verdicts across a config change", n)
	}
}

func TestKeptVerdictsAreCheckedBeforeTheyAreTrusted(t *testing.T) {
	t.Parallel()
	e := newKeptEnv(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	first := e.engine(e.snap("k1"), clock)
	want(t, decide(t, first, e.imgA), true, "verified by")
	kept, _ := first.Kept()
	good := roundTrip(t, kept)[0]
	for _, c := range []struct {
		name, why string
		edit      func(k *verify.Kept)
	}{
		{"expired, verified in full too long ago to renew", "expired", func(k *verify.Kept) {
			k.Expires, k.VerifiedAt = now.Add(-time.Second), now.Add(-verify.MaxRenewedAge-time.Minute)
		}},
		{"expired, nothing to renew it by", "expired", func(k *verify.Kept) {
			k.Expires, k.VerifiedAt, k.Seen = now.Add(-time.Second), now.Add(-time.Hour), nil
		}},
		{"verified later than now", "after now", func(k *verify.Kept) { k.VerifiedAt = now.Add(time.Hour) }},
		{"beyond allow_ttl", "beyond allow_ttl", func(k *verify.Kept) { k.Expires = now.Add(2 * time.Hour) }},
		{"a denial", "not a verified allow", func(k *verify.Kept) { k.Verdict.Verified = false }},
		{"an audit allow", "not a verified allow", func(k *verify.Kept) { k.Verdict.Cause = verify.CauseUntrusted }},
		{"no verdict", "not a verified allow", func(k *verify.Kept) { k.Verdict = nil }},
		{"another digest", "its verdict is for", func(k *verify.Kept) { k.Image = e.imgB.String() }},
		{"a bad name", "image:", func(k *verify.Kept) { k.Image = "not a name" }},
		{"another binding", "have changed", func(k *verify.Kept) { k.Binding = "0123456789abcdef01234567" }},
		// Renewed by looking at another repository, one whose listing an
		// attacker keeps unchanged.
		{"renewed from another repository", "another repository", func(k *verify.Kept) {
			k.Seen = map[string]string{"tag " + e.imgB.Context().Tag("sha256-0.sig").String(): "sha256:00"}
		}},
		{"renewed from another repository's listing", "another repository", func(k *verify.Kept) {
			k.Seen = map[string]string{"referrers " + e.imgB.String(): "sha256:00"}
		}},
		{"renewed by something else", "renewed by", func(k *verify.Kept) {
			k.Seen = map[string]string{"blob " + e.imgA.String(): "sha256:00"}
		}},
	} {
		k := roundTrip(t, []verify.Kept{good})[0]
		c.edit(&k)
		eng := e.engine(e.snap("k1"), clock)
		n, errs := eng.Restore([]verify.Kept{k})
		if n != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), c.why) {
			t.Errorf("%s: restored %d, errors %v; want it refused with %q", c.name, n, errs, c.why)
		}
	}
	// The untouched one is taken, and never over a verdict made here.
	eng := e.engine(e.snap("k1"), clock)
	want(t, decide(t, eng, e.imgA), true, "verified by")
	if n, _ := eng.Restore([]verify.Kept{good}); n != 0 {
		t.Fatalf("a kept verdict replaced one this engine made")
	}
}

// A verdict asked with a platform manifest is kept with it, and taken back
// only for the same one.
func TestKeptVerdictsKeepTheirPlatform(t *testing.T) {
	t.Parallel()
	e := newKeptEnv(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	first := e.engine(e.snap("k1"), clock)
	// A plain manifest is its own platform manifest.
	v := first.Decide(context.Background(), verify.Request{Image: e.imgA, Platform: e.imgA.DigestStr()})
	want(t, v, true, "verified by")
	kept, _ := first.Kept()
	if len(kept) != 1 || kept[0].Platform != e.imgA.DigestStr() {
		t.Fatalf("kept %+v", kept)
	}
	second := e.engine(e.snap("k1"), clock)
	if n, errs := second.Restore(roundTrip(t, kept)); n != 1 {
		t.Fatalf("restored %d: %v", n, errs)
	}
	if v := second.Decide(context.Background(), verify.Request{Image: e.imgA, Platform: e.imgA.DigestStr()}); !v.Cached {
		t.Fatalf("not taken back for the same platform manifest: %+v", v)
	}
	other := roundTrip(t, kept)
	other[0].Platform = "sha256:" + strings.Repeat("a", 64)
	if n, errs := e.engine(e.snap("k1"), clock).Restore(other); n != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "platform manifest") {
		t.Fatalf("restored %d (%v) under another platform manifest", n, errs)
	}
}
