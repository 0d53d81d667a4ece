package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/sigstore/cosign/v3/pkg/types"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

type env struct {
	t       *testing.T
	host    string
	srv     *httptest.Server
	signers map[string]*sigtest.Signer
	store   *keystore.Store
}

// newEnv starts an in-memory OCI registry and makes keys k1..kn.
func newEnv(t *testing.T, referrers bool, nkeys int) *env {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrers), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, host: strings.TrimPrefix(srv.URL, "http://"), signers: map[string]*sigtest.Signer{}}
	var keys []*keystore.Key
	for i := 1; i <= nkeys; i++ {
		s, err := sigtest.NewSigner()
		if err != nil {
			t.Fatal(err)
		}
		n := fmt.Sprintf("k%d", i)
		e.signers[n] = s
		k, err := keystore.ParsePublicKeyPEM(n, "inline", []byte(s.PublicPEM()))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	st, err := keystore.NewStore(keys...)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	return e
}

func (e *env) image(repo string) name.Digest {
	e.t.Helper()
	d, err := sigtest.PushImage(e.host + "/" + repo + ":latest")
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) engine(policies verify.Policies, reg registry.Config, opts verify.Options) *verify.Engine {
	e.t.Helper()
	c, err := registry.New(reg)
	if err != nil {
		e.t.Fatal(err)
	}
	return verify.NewEngine(&verify.Snapshot{ID: "test", Policies: policies, Keys: e.store}, c, opts)
}

func policy(t *testing.T, mode verify.Mode, rule string, every bool, keys ...string) verify.Policies {
	t.Helper()
	sc, err := verify.ParseScope("**")
	if err != nil {
		t.Fatal(err)
	}
	p := verify.Policy{Name: "test", Scopes: []verify.Scope{sc}, Mode: mode}
	if mode != verify.Allow && mode != verify.DenyMode {
		th, err := verify.ParseThreshold(rule, len(keys))
		if err != nil {
			t.Fatal(err)
		}
		p.Cosign = &verify.CosignRequirement{Keys: keys, Threshold: th, EverySignature: every}
	}
	return verify.Policies{p}
}

func decide(t *testing.T, eng *verify.Engine, img name.Digest) *verify.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return eng.Decide(ctx, verify.Request{Image: img})
}

func want(t *testing.T, v *verify.Verdict, allowed bool, reason string) {
	t.Helper()
	if v.Allowed != allowed || !strings.Contains(v.Reason, reason) {
		t.Fatalf("got allowed=%v reason=%q; want allowed=%v and a reason containing %q", v.Allowed, v.Reason, allowed, reason)
	}
}

func TestSignatureFormats(t *testing.T) {
	t.Parallel()
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrersAPI=%v", referrers), func(t *testing.T) {
			e := newEnv(t, referrers, 1)
			eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})

			legacy := e.image("legacy")
			if err := e.signers["k1"].SignLegacy(legacy); err != nil {
				t.Fatal(err)
			}
			v := decide(t, eng, legacy)
			want(t, v, true, "verified by k1")
			if got := v.Cosign.Signatures[0].Format; got != verify.FormatLegacy {
				t.Errorf("format = %s, want legacy", got)
			}

			bundle := e.image("bundle")
			if err := e.signers["k1"].SignBundle(bundle); err != nil {
				t.Fatal(err)
			}
			v = decide(t, eng, bundle)
			want(t, v, true, "verified by k1")
			if got := v.Cosign.Signatures[0].Format; got != verify.FormatBundle {
				t.Errorf("format = %s, want bundle", got)
			}

			want(t, decide(t, eng, e.image("unsigned")), false, "no cosign signatures found")
		})
	}
}

func TestRejections(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 2)
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	k1, k2 := e.signers["k1"], e.signers["k2"]

	t.Run("wrong key", func(t *testing.T) {
		img := e.image("wrongkey")
		if err := k2.SignLegacy(img); err != nil {
			t.Fatal(err)
		}
		if err := k2.SignBundle(img); err != nil {
			t.Fatal(err)
		}
		v := decide(t, eng, img)
		want(t, v, false, "verified by none, not by k1")
		if len(v.Cosign.Signatures) != 2 {
			t.Fatalf("want both signatures reported, got %+v", v.Cosign.Signatures)
		}
	})
	t.Run("legacy signature copied from another image", func(t *testing.T) {
		other, img := e.image("copied-src"), e.image("copied")
		if err := k1.SignLegacyClaiming(img, other); err != nil {
			t.Fatal(err)
		}
		want(t, decide(t, eng, img), false, "for another image (payload names \""+other.DigestStr())
	})
	t.Run("bundle for another image", func(t *testing.T) {
		other, img := e.image("bcopied-src"), e.image("bcopied")
		if err := k1.SignBundleStatement(img, other, types.CosignSignPredicateType); err != nil {
			t.Fatal(err)
		}
		want(t, decide(t, eng, img), false, "signs another image")
	})
	t.Run("attestation is not a signature", func(t *testing.T) {
		img := e.image("attested")
		// The referrer's annotation claims a signature; the signed statement
		// is an SLSA provenance made with the same key.
		if err := k1.SignBundleStatement(img, img, "https://slsa.dev/provenance/v1"); err != nil {
			t.Fatal(err)
		}
		v := decide(t, eng, img)
		if v.Allowed {
			t.Fatalf("an attestation was accepted as a signature: %+v", v)
		}
	})
	t.Run("malformed signature layer", func(t *testing.T) {
		img := e.image("malformed")
		if err := sigtest.AttachRaw(img, []byte(`{"not":"a payload"}`), "!!!not base64"); err != nil {
			t.Fatal(err)
		}
		v := decide(t, eng, img)
		want(t, v, false, "malformed")
		// A good signature beside it still counts.
		if err := k1.SignLegacy(img); err != nil {
			t.Fatal(err)
		}
		eng2 := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
		want(t, decide(t, eng2, img), true, "verified by k1")
	})
	t.Run("tag moved to an unsigned digest", func(t *testing.T) {
		signed := e.image("moved")
		if err := k1.SignLegacy(signed); err != nil {
			t.Fatal(err)
		}
		unsigned := e.image("moved") // same tag, new content
		if unsigned == signed {
			t.Fatal("random images collided")
		}
		want(t, decide(t, eng, signed), true, "verified by k1")
		want(t, decide(t, eng, unsigned), false, "no cosign signatures found")
	})
}

func TestEnforcementRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 3)
	// Each image is signed by the keys named; bundles and legacy mixed so
	// that counting spans both formats.
	signedBy := func(keys ...string) name.Digest {
		img := e.image("rules")
		for i, k := range keys {
			var err error
			if i%2 == 0 {
				err = e.signers[k].SignLegacy(img)
			} else {
				err = e.signers[k].SignBundle(img)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		return img
	}
	imgs := map[string]name.Digest{
		"k1":       signedBy("k1"),
		"k1,k2":    signedBy("k1", "k2"),
		"k1,k2,k3": signedBy("k1", "k2", "k3"),
		"k3":       signedBy("k3"),
	}
	cases := []struct {
		keys   []string
		rule   string
		every  bool
		image  string
		allows bool
	}{
		{[]string{"k1"}, "any", false, "k1", true},
		{[]string{"k1"}, "all", false, "k3", false},
		{[]string{"k1", "k2"}, "any", false, "k1", true},
		{[]string{"k1", "k2"}, "all", false, "k1", false},
		{[]string{"k1", "k2"}, "all", false, "k1,k2", true},
		{[]string{"k1", "k2", "k3"}, "2", false, "k1", false},
		{[]string{"k1", "k2", "k3"}, "2", false, "k1,k2", true},
		{[]string{"k1", "k2", "k3"}, "2", false, "k3", false},
		{[]string{"k1", "k2", "k3"}, "all", false, "k1,k2", false},
		{[]string{"k1", "k2", "k3"}, "all", false, "k1,k2,k3", true},
		{[]string{"k1", "k2", "k3"}, "3", false, "k1,k2,k3", true},
		// every_signature: a signature from an unlisted key denies.
		{[]string{"k1", "k2"}, "any", true, "k1,k2", true},
		{[]string{"k1", "k2"}, "any", true, "k1,k2,k3", false},
		{[]string{"k1", "k2"}, "any", false, "k1,k2,k3", true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_of_%s_every=%v_signedby_%s", c.rule, strings.Join(c.keys, "+"), c.every, c.image), func(t *testing.T) {
			eng := e.engine(policy(t, verify.Enforce, c.rule, c.every, c.keys...), registry.Config{}, verify.Options{})
			v := decide(t, eng, imgs[c.image])
			if v.Allowed != c.allows {
				t.Fatalf("allowed = %v, want %v: %s", v.Allowed, c.allows, v.Reason)
			}
		})
	}
}

func TestIndexDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	idx, err := sigtest.PushIndex(e.host + "/multiarch:latest")
	if err != nil {
		t.Fatal(err)
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	want(t, decide(t, eng, idx), false, "no cosign signatures")
	if err := e.signers["k1"].SignLegacy(idx); err != nil {
		t.Fatal(err)
	}
	eng = e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	want(t, decide(t, eng, idx), true, "verified by k1")
}

func TestOversizedManifest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("big")
	for i := 0; i < 8; i++ { // eight signature layers: a .sig manifest of a few KiB
		if err := e.signers["k1"].SignLegacy(img); err != nil {
			t.Fatal(err)
		}
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{MaxManifestBytes: 1024}, verify.Options{})
	want(t, decide(t, eng, img), false, "exceeds the 1024-byte limit")
}

func TestRegistryDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("down")
	if err := e.signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	e.srv.Close()
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	want(t, decide(t, eng, img), false, "cannot read signatures")
}

// hangingRegistry accepts connections and never answers, until released.
func hangingRegistry(t *testing.T) (host string, release func()) {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(stop) }) }
	t.Cleanup(func() { release(); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://"), release
}

func TestDeadlineAnswersPendingAndFinishesInBackground(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	host, release := hangingRegistry(t)
	img, _ := name.NewDigest(host + "/hang@sha256:" + strings.Repeat("a", 64))
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{VerifyTimeout: 5 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	v := eng.Decide(ctx, verify.Request{Image: img})
	if v.Allowed || !v.Pending || !strings.Contains(v.Reason, "still in progress") {
		t.Fatalf("want a pending denial, got %+v", v)
	}
	// The verification goes on; once the registry answers it completes and
	// the next request gets its (cached) verdict without a second verification.
	release()
	v = decide(t, eng, img)
	if v.Pending || v.Allowed {
		t.Fatalf("want a final denial, got %+v", v)
	}
	if n := eng.Verifications.Load(); n != 1 {
		t.Errorf("verifications = %d, want 1", n)
	}
	// An audit policy never blocks, even on its deadline.
	audit := e.engine(policy(t, verify.Audit, "any", false, "k1"), registry.Config{}, verify.Options{})
	host2, _ := hangingRegistry(t)
	img2, _ := name.NewDigest(host2 + "/hang@sha256:" + strings.Repeat("b", 64))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if v := audit.Decide(ctx2, verify.Request{Image: img2}); !v.Allowed || !v.Pending {
		t.Fatalf("audit policy at its deadline: want pending allow, got %+v", v)
	}
}

func TestConcurrentRequestsShareOneVerification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	imgs := make([]name.Digest, 5)
	for i := range imgs {
		imgs[i] = e.image(fmt.Sprintf("conc%d", i))
		if err := e.signers["k1"].SignBundle(imgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	var wg sync.WaitGroup
	errs := make(chan string, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(img name.Digest) {
			defer wg.Done()
			if v := decide(t, eng, img); !v.Allowed {
				errs <- v.Reason
			}
		}(imgs[i%5])
	}
	wg.Wait()
	close(errs)
	for r := range errs {
		t.Error(r)
	}
	if n := eng.Verifications.Load(); n != 5 {
		t.Errorf("verifications = %d, want 5 (one per image)", n)
	}
}

func TestCacheIsBoundToSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 2)
	img := e.image("cache")
	if err := e.signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	if v := decide(t, eng, img); !v.Allowed || v.Cached {
		t.Fatalf("first decision: %+v", v)
	}
	if v := decide(t, eng, img); !v.Allowed || !v.Cached {
		t.Fatalf("second decision should be cached: %+v", v)
	}
	// A new policy requiring k2: the cached allow must not be reused.
	eng.Swap(&verify.Snapshot{ID: "test2", Policies: policy(t, verify.Enforce, "any", false, "k2"), Keys: e.store})
	want(t, decide(t, eng, img), false, "not by k2")

	// Denials expire quickly, so a fixed image is picked up. The engine's
	// clock stands still until advanced, so the cached denial is checked
	// however slow the machine.
	const ttl = time.Second
	clock := newTestClock()
	eng = e.engine(policy(t, verify.Enforce, "any", false, "k2"), registry.Config{}, verify.Options{DenyTTL: ttl, Now: clock.Now})
	want(t, decide(t, eng, img), false, "not by k2")
	if err := e.signers["k2"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	v := decide(t, eng, img)
	want(t, v, false, "not by k2")
	if !v.Cached {
		t.Fatalf("the denial was not reused within its TTL: %+v", v)
	}
	clock.Advance(ttl - time.Millisecond)
	if v := decide(t, eng, img); v.Allowed || !v.Cached {
		t.Fatalf("the denial expired before its TTL: %+v", v)
	}
	clock.Advance(2 * time.Millisecond)
	want(t, decide(t, eng, img), true, "verified by k2")
}

func TestPolicyModes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("modes")
	want(t, decide(t, e.engine(policy(t, verify.Allow, "", false), registry.Config{}, verify.Options{}), img), true, "without verification")
	v := decide(t, e.engine(policy(t, verify.Audit, "any", false, "k1"), registry.Config{}, verify.Options{}), img)
	want(t, v, true, "audit: would deny")
	if v.Verified {
		t.Error("audit verdict claims the image verified")
	}
	sc, _ := verify.ParseScope("other.example.com/**")
	eng := e.engine(verify.Policies{{Name: "other", Scopes: []verify.Scope{sc}, Mode: verify.Allow}}, registry.Config{}, verify.Options{})
	want(t, decide(t, eng, img), false, "no policy matches")
}

func TestDecideAnyNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	img := e.image("anyns")
	sysScope, _ := verify.ParseScope("**/anyns")
	all, _ := verify.ParseScope("**")
	th, _ := verify.ParseThreshold("any", 1)
	pols := verify.Policies{
		{Name: "system", Scopes: []verify.Scope{sysScope}, Namespaces: []string{"kube-system"}, Mode: verify.Allow},
		{Name: "rest", Scopes: []verify.Scope{all}, Mode: verify.Enforce, Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: th}},
	}
	eng := e.engine(pols, registry.Config{}, verify.Options{})
	ctx := context.Background()
	if v := eng.Decide(ctx, verify.Request{Image: img, Namespace: "default"}); v.Allowed {
		t.Fatal("unsigned image allowed in default")
	}
	// It may run in kube-system, so a pull must not be refused.
	if v := eng.DecideAnyNamespace(ctx, img, ""); !v.Allowed || v.Policy != "system" {
		t.Fatalf("any namespace: %+v", v)
	}
	other := e.image("other")
	if v := eng.DecideAnyNamespace(ctx, other, ""); v.Allowed || v.Policy != "rest" {
		t.Fatalf("an image no policy would admit anywhere: %+v", v)
	}
}

// A key change drops only the verdicts of policies that trust that key; a
// config change drops them all.
func TestVerdictsAreBoundToThePolicysOwnKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, 3)
	imgA, imgB := e.image("team-a/app"), e.image("team-b/app")
	if err := e.signers["k1"].SignLegacy(imgA); err != nil {
		t.Fatal(err)
	}
	if err := e.signers["k2"].SignLegacy(imgB); err != nil {
		t.Fatal(err)
	}
	key := func(name, signer, version string) *keystore.Key {
		k, err := keystore.ParsePublicKeyPEM(name, "kms", []byte(e.signers[signer].PublicPEM()))
		if err != nil {
			t.Fatal(err)
		}
		k.Version = version
		return k
	}
	pol := func(name, scope, keyName string) verify.Policy {
		sc, err := verify.ParseScope(e.host + "/" + scope)
		if err != nil {
			t.Fatal(err)
		}
		return verify.Policy{Name: name, Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Cosign: &verify.CosignRequirement{Keys: []string{keyName}, Threshold: 1}}
	}
	policies := verify.Policies{pol("a", "team-a/*", "a"), pol("b", "team-b/*", "b")}
	snap := func(id, config string, keys ...*keystore.Key) *verify.Snapshot {
		st, err := keystore.NewStore(keys...)
		if err != nil {
			t.Fatal(err)
		}
		return &verify.Snapshot{ID: id, Config: config, Policies: policies, Keys: st}
	}
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	eng := verify.NewEngine(snap("1", "cfg1", key("a", "k1", "1"), key("b", "k2", "1")), c, verify.Options{})
	for _, img := range []name.Digest{imgA, imgB} {
		want(t, decide(t, eng, img), true, "verified by")
	}
	// Key a rotates: version 2 current, version 1 in grace.
	eng.Swap(snap("2", "cfg1", key("a", "k3", "2"), key("a", "k1", "1"), key("b", "k2", "1")))
	if v := decide(t, eng, imgB); !v.Allowed || !v.Cached {
		t.Fatalf("team b's verdict was dropped by team a's rotation: %+v", v)
	}
	if v := decide(t, eng, imgA); !v.Allowed || v.Cached {
		t.Fatalf("team a's verdict survived its key's rotation: %+v", v)
	}
	// Key a's version 1 revoked: team a's image is denied at once.
	eng.Swap(snap("3", "cfg1", key("a", "k3", "2"), key("b", "k2", "1")))
	want(t, decide(t, eng, imgA), false, "not by a")
	if v := decide(t, eng, imgB); !v.Cached {
		t.Fatalf("team b's verdict was dropped: %+v", v)
	}
	// A config change drops everything.
	eng.Swap(snap("4", "cfg2", key("a", "k3", "2"), key("b", "k2", "1")))
	if v := decide(t, eng, imgB); v.Cached {
		t.Fatalf("a verdict survived a config change: %+v", v)
	}
}

// One public key under two names is one signer: require = "all" over both
// names is not met by its one signature (issue 11, item 2), while two
// distinct keys still meet it.
func TestThresholdCountsKeyMaterialNotNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 2)
	alias, err := keystore.ParsePublicKeyPEM("k1-again", "inline", []byte(e.signers["k1"].PublicPEM()))
	if err != nil {
		t.Fatal(err)
	}
	keys := append(e.store.Keys(), alias)
	if e.store, err = keystore.NewStore(keys...); err != nil {
		t.Fatal(err)
	}
	img := e.image("material")
	if err := e.signers["k1"].SignBundle(img); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"all", "2"} {
		v := decide(t, e.engine(policy(t, verify.Enforce, rule, false, "k1", "k1-again"), registry.Config{}, verify.Options{}), img)
		want(t, v, false, "but they are 1 distinct key(s): k1 and k1-again are one key (sha256:")
	}
	if err := e.signers["k2"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, e.engine(policy(t, verify.Enforce, "2", false, "k1", "k1-again", "k2"), registry.Config{}, verify.Options{}), img), true, "verified by k1, k1-again, k2")
}

func TestDistinctSigners(t *testing.T) {
	t.Parallel()
	m := func(fps ...string) map[string]bool {
		out := map[string]bool{}
		for _, f := range fps {
			out[f] = true
		}
		return out
	}
	for _, c := range []struct {
		name     string
		material map[string]map[string]bool
		want     int
	}{
		{"two names, one key", map[string]map[string]bool{"a": m("x"), "b": m("x")}, 1},
		{"two keys", map[string]map[string]bool{"a": m("x"), "b": m("y")}, 2},
		{"one name, two versions", map[string]map[string]bool{"a": m("x", "y")}, 1},
		// a's versions x and y; b was moved to x: a can be credited to y.
		{"an alias moved onto another key's old version", map[string]map[string]bool{"a": m("x", "y"), "b": m("x")}, 2},
		{"three names, two keys", map[string]map[string]bool{"a": m("x"), "b": m("x"), "c": m("y")}, 2},
	} {
		names := make([]string, 0, len(c.material))
		for n := range c.material {
			names = append(names, n)
		}
		if got := verify.DistinctSigners(names, c.material); got != c.want {
			t.Errorf("%s: %d distinct signers, want %d", c.name, got, c.want)
		}
	}
}

// A key whose trust ends (a grace period, max_staleness) stops verifying at
// that moment, on the decision path: the verdict it made is not reused and
// no sync round is needed (issue 11, item 4).
func TestKeyTrustEndsAtDecisionTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	k := *e.store.Versions("k1")[0]
	clock := newTestClock()
	k.NotAfter = clock.Now().Add(time.Minute)
	st, err := keystore.NewStore(&k)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	img := e.image("expiring")
	if err := e.signers["k1"].SignBundle(img); err != nil {
		t.Fatal(err)
	}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{Now: clock.Now})
	want(t, decide(t, eng, img), true, "verified by k1")
	if v := decide(t, eng, img); !v.Cached {
		t.Fatal("the second decision was not a cache hit")
	}
	clock.Set(k.NotAfter.Add(-time.Millisecond))
	if v := decide(t, eng, img); !v.Allowed || !v.Cached {
		t.Fatalf("a millisecond before the key's end: %+v", v)
	}
	clock.Set(k.NotAfter)
	v := decide(t, eng, img)
	want(t, v, false, "keys with no trusted version in the keystore: [k1]")
	if len(eng.Snapshot().Keys.Keys()) != 0 {
		t.Fatal("the expired key is still in the snapshot")
	}
}

// A registry's error body reaches the denial only as a short, printable
// excerpt (issue 11, item 8).
func TestRegistryErrorBodyIsExcerpted(t *testing.T) {
	t.Parallel()
	body := "\x1b[31mboom\x1b[0m\r\n" + strings.Repeat("A", 32<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		http.Error(w, body, http.StatusInternalServerError)
	}))
	defer srv.Close()
	e := newEnv(t, true, 1)
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	img, _ := name.NewDigest(strings.TrimPrefix(srv.URL, "http://") + "/app@sha256:" + strings.Repeat("a", 64))
	v := decide(t, eng, img)
	if v.Allowed || !strings.Contains(v.Reason, "cannot read signatures") || !strings.Contains(v.Reason, "boom") {
		t.Fatalf("verdict %+v", v)
	}
	if len(v.Reason) > 800 || strings.ContainsAny(v.Reason, "\x1b\r\n") {
		t.Fatalf("the denial carries the registry's body: %d bytes: %q", len(v.Reason), v.Reason)
	}
}

// paginated serves the referrers API one descriptor per page, linked by
// Link headers, or (endless) always links a next page.
func paginated(t *testing.T, endless bool) *env {
	t.Helper()
	inner := ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/referrers/") || r.Method != http.MethodGet {
			inner.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r.Clone(r.Context()))
		var idx struct {
			SchemaVersion int               `json:"schemaVersion"`
			MediaType     string            `json:"mediaType"`
			Manifests     []json.RawMessage `json:"manifests"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
			t.Errorf("referrers: %v", err)
		}
		page := 0
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		all := idx.Manifests
		// The registry lists referrers in no fixed order; pages need one.
		sort.Slice(all, func(i, j int) bool { return string(all[i]) < string(all[j]) })
		idx.Manifests = nil
		if page < len(all) {
			idx.Manifests = all[page : page+1]
		}
		if endless || page+1 < len(all) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		_ = json.NewEncoder(w).Encode(idx)
	}))
	t.Cleanup(srv.Close)
	e := newEnv(t, true, 2)
	e.srv, e.host = srv, strings.TrimPrefix(srv.URL, "http://")
	return e
}

// every_signature sees every page of the referrers API (go-containerregistry
// reads only the first), and a registry that pages without end is refused,
// not read in part (issue 11, item 8).
func TestReferrersPages(t *testing.T) {
	t.Parallel()
	e := paginated(t, false)
	img := e.image("paged")
	for _, k := range []string{"k1", "k2"} {
		if err := e.signers[k].SignBundle(img); err != nil {
			t.Fatal(err)
		}
	}
	v := decide(t, e.engine(policy(t, verify.Enforce, "any", true, "k1"), registry.Config{}, verify.Options{}), img)
	want(t, v, false, "every signature must verify with a listed key, but referrer sha256:")
	if n := len(v.Cosign.Signatures); n != 2 {
		t.Fatalf("%d signatures seen across two pages, want 2", n)
	}
	want(t, decide(t, e.engine(policy(t, verify.Enforce, "all", true, "k1", "k2"), registry.Config{}, verify.Options{}), img), true, "verified by k1, k2")

	endless := paginated(t, true)
	img = endless.image("endless")
	if err := endless.signers["k1"].SignBundle(img); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, endless.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{}), img), false, "more than 16 pages of referrers")
}

// A referrers listing is capped across its pages, not page by page, and
// the denial names the cap (issue 26, item 8).
func TestReferrersDenialNamesTheCap(t *testing.T) {
	t.Parallel()
	e := paginated(t, false)
	img := e.image("capped")
	for _, k := range []string{"k1", "k2"} {
		if err := e.signers[k].SignBundle(img); err != nil {
			t.Fatal(err)
		}
	}
	// A page (one descriptor, about 300 bytes) fits; two pages do not.
	v := decide(t, e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{MaxManifestBytes: 400}, verify.Options{}), img)
	want(t, v, false, "(registry.max_manifest_bytes)")
	if v.Cause != verify.CauseRegistryError {
		t.Errorf("cause %q", v.Cause)
	}
}

// Every verdict carries a cause a program can switch on; metrics and the
// decision log use it, so rewording a reason never breaks them (issue 12).
func TestVerdictCauses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 2)
	signed := e.image("causes/signed")
	if err := e.signers["k1"].SignBundle(signed); err != nil {
		t.Fatal(err)
	}
	wrongKey := e.image("causes/wrong")
	if err := e.signers["k2"].SignLegacy(wrongKey); err != nil {
		t.Fatal(err)
	}
	unsigned := e.image("causes/unsigned")
	k1 := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{})
	audit := e.engine(policy(t, verify.Audit, "any", false, "k1"), registry.Config{}, verify.Options{})
	allow := e.engine(policy(t, verify.Allow, "", false), registry.Config{}, verify.Options{})
	deny := e.engine(policy(t, verify.DenyMode, "", false), registry.Config{}, verify.Options{})
	none := e.engine(verify.Policies{}, registry.Config{}, verify.Options{})
	for _, c := range []struct {
		name    string
		v       *verify.Verdict
		cause   verify.Cause
		allowed bool
	}{
		{"signed", decide(t, k1, signed), verify.CauseVerified, true},
		{"unsigned", decide(t, k1, unsigned), verify.CauseNoSignatures, false},
		{"wrong key", decide(t, k1, wrongKey), verify.CauseUntrusted, false},
		{"audited, unsigned", decide(t, audit, unsigned), verify.CauseNoSignatures, true},
		{"allowed by policy", decide(t, allow, unsigned), verify.CauseAllowedByPolicy, true},
		{"no policy", decide(t, none, unsigned), verify.CauseNoPolicy, false},
		{"denied by policy, signed", decide(t, deny, signed), verify.CauseDeniedByPolicy, false},
	} {
		if c.v.Cause != c.cause || c.v.Allowed != c.allowed {
			t.Errorf("%s: cause %q allowed %v; want %q %v (%s)", c.name, c.v.Cause, c.v.Allowed, c.cause, c.allowed, c.v.Reason)
		}
	}
	e.srv.Close()
	if v := decide(t, e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{}), signed); v.Cause != verify.CauseRegistryError {
		t.Errorf("registry down: cause %q (%s)", v.Cause, v.Reason)
	}
}
