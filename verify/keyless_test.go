package verify_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

const (
	ghIssuer = "https://token.actions.githubusercontent.com"
	release  = "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main"
)

// keyless is a registry, a virtual Sigstore whose trusted root is on disk,
// and the key k1.
type keyless struct {
	*env
	sigstore *sigtest.Sigstore
	root     *verify.TrustRoot
}

func newKeyless(t *testing.T) *keyless {
	t.Helper()
	e := newEnv(t, true, 1)
	ss, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := ss.WriteTrustedRoot(p, false); err != nil {
		t.Fatal(err)
	}
	tr, err := verify.LoadTrustRoot("local", p)
	if err != nil {
		t.Fatal(err)
	}
	return &keyless{env: e, sigstore: ss, root: tr}
}

// releaseWorkflow is the identity the tests require: the release workflow
// of org/app, from any branch.
func releaseWorkflow() *verify.Identity {
	return &verify.Identity{Name: "release", TrustRoot: "local", Issuer: ghIssuer,
		SubjectRegexp: `https://github\.com/org/app/\.github/workflows/release\.yml@refs/heads/.+`}
}

func (k *keyless) engine(t *testing.T, keys []string, ids []*verify.Identity, rule string, tlog verify.Tlog) *verify.Engine {
	t.Helper()
	return k.engineWith(t, verify.Options{}, keys, ids, rule, tlog)
}

func (k *keyless) engineWith(t *testing.T, opts verify.Options, keys []string, ids []*verify.Identity, rule string, tlog verify.Tlog) *verify.Engine {
	t.Helper()
	sc, err := verify.ParseScope("**")
	if err != nil {
		t.Fatal(err)
	}
	signers := map[string]*verify.Signer{}
	var names []string
	for _, id := range ids {
		s, err := verify.NewSigner(id, k.root)
		if err != nil {
			t.Fatal(err)
		}
		signers[id.Name] = s
		names = append(names, id.Name)
	}
	th, err := verify.ParseThreshold(rule, len(keys)+len(ids))
	if err != nil {
		t.Fatal(err)
	}
	p := verify.Policy{Name: "keyless", Scopes: []verify.Scope{sc}, Mode: verify.Enforce,
		Cosign: &verify.CosignRequirement{Keys: keys, Identities: names, Threshold: th, Tlog: tlog}}
	if errs := p.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return verify.NewEngine(&verify.Snapshot{ID: "keyless", Policies: verify.Policies{p}, Keys: k.store, Signers: signers}, c, opts)
}

func TestKeylessIdentity(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)

	signed := k.image("signed")
	if err := k.sigstore.SignKeyless(signed, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	v := decide(t, eng, signed)
	want(t, v, true, "verified by release")
	s := v.Cosign.Signatures[0]
	if s.Subject != release || s.Issuer != ghIssuer || s.TrustRoot != "local" || s.LogIndex == nil || s.SignedAt == "" {
		t.Fatalf("the signature does not say who signed it, where and when: %+v", s)
	}

	// Another repository's workflow: denied, naming both identities.
	other := k.image("other")
	evil := "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"
	if err := k.sigstore.SignKeyless(other, evil, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	v = decide(t, eng, other)
	want(t, v, false, "signed by "+evil)
	if !strings.Contains(v.Reason, "github\\.com/org/app") {
		t.Fatalf("the denial does not name the identity required: %s", v.Reason)
	}

	// The right subject from another issuer.
	gitlab := k.image("gitlab")
	if err := k.sigstore.SignKeyless(gitlab, release, "https://gitlab.com", sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, gitlab), false, "issuer https://gitlab.com")
}

// A pattern must match the whole subject: sigstore-go and cosign search
// for it anywhere, so an unanchored pattern admits any subject that merely
// contains it.
func TestKeylessPatternsAreAnchored(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	img := k.image("sneaky")
	sneaky := "https://evil.example/?x=" + release
	if err := k.sigstore.SignKeyless(img, sneaky, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, img), false, "signed by "+sneaky)
}

func TestKeylessSignatureForAnotherImageIsRefused(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	target, other := k.image("target"), k.image("elsewhere")
	if err := k.sigstore.SignKeylessFor(target, other, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, target), false, "signs another image")
}

func TestKeylessUnderAnotherTrustRootIsRefused(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	stranger, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	img := k.image("stranger")
	if err := stranger.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, img), false, `trust root "local"`)
}

func TestKeylessTransparencyModes(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	noTlog, neither := k.image("no-tlog"), k.image("neither")
	if err := k.sigstore.SignKeyless(noTlog, release, ghIssuer, sigtest.KeylessOptions{NoTlog: true}); err != nil {
		t.Fatal(err)
	}
	if err := k.sigstore.SignKeyless(neither, release, ghIssuer, sigtest.KeylessOptions{NoTlog: true, NoTimestamp: true}); err != nil {
		t.Fatal(err)
	}
	ids := []*verify.Identity{releaseWorkflow()}
	require := k.engine(t, nil, ids, "any", verify.TlogRequire)
	ifPresent := k.engine(t, nil, ids, "any", verify.TlogIfPresent)
	// require: a signature with no log entry does not count.
	want(t, decide(t, require, noTlog), false, "release")
	// if-present: the signed timestamp proves when the certificate was used.
	v := decide(t, ifPresent, noTlog)
	want(t, v, true, "verified by release")
	if v.Cosign.Signatures[0].LogIndex != nil || v.Cosign.Signatures[0].SignedAt == "" {
		t.Fatalf("want a timestamp and no log entry: %+v", v.Cosign.Signatures[0])
	}
	// Neither a log entry nor a timestamp: nothing says when the
	// ten-minute certificate was used.
	want(t, decide(t, ifPresent, neither), false, verify.ErrNoObserverTime.Error())
}

// A trust root with CT logs requires each certificate to carry an SCT from
// one (the virtual Sigstore's certificates carry none).
func TestKeylessCertificateWithoutSCTIsRefused(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	p := filepath.Join(t.TempDir(), "with-ct.json")
	if err := k.sigstore.WriteTrustedRoot(p, true); err != nil {
		t.Fatal(err)
	}
	var err error
	if k.root, err = verify.LoadTrustRoot("local", p); err != nil {
		t.Fatal(err)
	}
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	img := k.image("no-sct")
	if err := k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, img), false, "no valid SCT")
}

// An identity counts toward require like a key.
func TestKeylessIdentityCountsLikeAKey(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	both := k.engine(t, []string{"k1"}, []*verify.Identity{releaseWorkflow()}, "all", verify.TlogRequire)
	img := k.image("both")
	if err := k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, both, img), false, "requires all of k1, release; 1 signature(s) found, verified by release, not by k1")
	if err := k.signers["k1"].SignLegacy(img); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, k.engine(t, []string{"k1"}, []*verify.Identity{releaseWorkflow()}, "all", verify.TlogRequire), img), true, "verified by k1, release")

	// Two identities that match one certificate are one signer.
	twin := releaseWorkflow()
	twin.Name = "release-again"
	two := k.engine(t, nil, []*verify.Identity{releaseWorkflow(), twin}, "all", verify.TlogRequire)
	want(t, decide(t, two, img), false, "distinct key(s)")
}

// Real data: the public-good instance's bundle for sigstore-js 1.3.0's
// provenance, against the trusted root published then.
func TestPublicGoodBundle(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/sigstore-go/bundle-provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	var b sgbundle.Bundle
	if err := b.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		DSSE struct {
			Payload string `json:"payload"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.StdEncoding.DecodeString(envelope.DSSE.Payload)
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	digest := v1.Hash{Algorithm: "sha512", Hex: st.Subject[0].Digest["sha512"]}

	good, err := verify.LoadTrustRoot("public-good", "testdata/sigstore-go/trusted-root-public-good.json")
	if err != nil {
		t.Fatal(err)
	}
	sigstoreJS := &verify.Identity{Name: "sigstore-js", TrustRoot: "public-good", Issuer: ghIssuer,
		Subject: "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"}
	check := func(id *verify.Identity, tr *verify.TrustRoot, h v1.Hash) string {
		s, err := verify.NewSigner(id, tr)
		if err != nil {
			t.Fatal(err)
		}
		return verify.VerifyKeylessBundle(s, &b, h, verify.TlogRequire)
	}
	if why := check(sigstoreJS, good, digest); why != "" {
		t.Fatalf("the public-good bundle does not verify: %s", why)
	}
	other := digest
	other.Hex = strings.Repeat("0", len(digest.Hex))
	if why := check(sigstoreJS, good, other); why == "" {
		t.Fatal("verified against another digest")
	}
	wrongID := *sigstoreJS
	wrongID.Subject = "https://github.com/sigstore/sigstore-js/.github/workflows/ci.yml@refs/heads/main"
	if why := check(&wrongID, good, digest); !strings.Contains(why, "signed by https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main") {
		t.Fatalf("another identity: %q", why)
	}
	// A root whose Fulcio CAs stopped before the signature was made.
	expired := rewriteRoot(t, func(r map[string]any) {
		for _, ca := range r["certificateAuthorities"].([]any) {
			ca.(map[string]any)["validFor"].(map[string]any)["end"] = "2022-04-13T20:06:15.000Z"
		}
	})
	if why := check(sigstoreJS, expired, digest); why == "" {
		t.Fatal("verified under a root whose certificate authorities had expired")
	}
	// Another instance's root.
	ss, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other.json")
	if err := ss.WriteTrustedRoot(p, false); err != nil {
		t.Fatal(err)
	}
	otherRoot, err := verify.LoadTrustRoot("other", p)
	if err != nil {
		t.Fatal(err)
	}
	if why := check(sigstoreJS, otherRoot, digest); why == "" {
		t.Fatal("verified under another instance's root")
	}
}

func rewriteRoot(t *testing.T, edit func(map[string]any)) *verify.TrustRoot {
	t.Helper()
	b, err := os.ReadFile("testdata/sigstore-go/trusted-root-public-good.json")
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	edit(r)
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "root.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := verify.LoadTrustRoot("edited", p)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// The .sig tag (cosign --new-bundle-format=false): the certificate and the
// Rekor bundle ride in the layer's annotations.
func TestKeylessLegacyFormat(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	ids := []*verify.Identity{releaseWorkflow()}
	require := k.engine(t, nil, ids, "any", verify.TlogRequire)
	ifPresent := k.engine(t, nil, ids, "any", verify.TlogIfPresent)

	signed := k.image("legacy-signed")
	if err := k.sigstore.SignKeylessLegacy(signed, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	v := decide(t, require, signed)
	want(t, v, true, "verified by release")
	if s := v.Cosign.Signatures[0]; s.Format != verify.FormatLegacy || s.Subject != release || s.LogIndex == nil || s.SignedAt == "" || s.TrustRoot != "local" {
		t.Fatalf("the signature does not say who signed it, where and when: %+v", s)
	}

	evil := "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main"
	other := k.image("legacy-other")
	if err := k.sigstore.SignKeylessLegacy(other, evil, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, require, other), false, "signed by "+evil)

	noTlog := k.image("legacy-no-tlog")
	if err := k.sigstore.SignKeylessLegacy(noTlog, release, ghIssuer, sigtest.KeylessOptions{NoTlog: true}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, require, noTlog), false, `tlog = "require"`)
	want(t, decide(t, ifPresent, noTlog), true, "verified by release")

	neither := k.image("legacy-neither")
	if err := k.sigstore.SignKeylessLegacy(neither, release, ghIssuer, sigtest.KeylessOptions{NoTlog: true, NoTimestamp: true}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, ifPresent, neither), false, verify.ErrNoObserverTime.Error())
}

// A Rekor v2 (tiles) entry: an inclusion proof against a signed
// checkpoint, no promise; the signing time comes from the timestamp.
func TestKeylessRekorV2Entry(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	img := k.image("rekor-v2")
	if err := k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{RekorV2: true}); err != nil {
		t.Fatal(err)
	}
	v := decide(t, eng, img)
	want(t, v, true, "verified by release")
	if s := v.Cosign.Signatures[0]; s.LogIndex == nil || s.SignedAt == "" {
		t.Fatalf("want the log index and the timestamp: %+v", s)
	}
	// Without the timestamp a v2 entry proves no time.
	bare := k.image("rekor-v2-bare")
	if err := k.sigstore.SignKeyless(bare, release, ghIssuer, sigtest.KeylessOptions{RekorV2: true, NoTimestamp: true}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, bare), false, "release")
}

// A log entry of a kind no cosign signature uses (rekord, whose PGP form
// Rekor parses with the frozen x/crypto/openpgp) is refused unparsed.
func TestLogEntryOfAnotherKindIsRefusedUnparsed(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	eng := k.engine(t, []string{"k1"}, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	img := k.image("rekord-kind")
	raw, err := k.sigstore.Bundle(img, release, ghIssuer, sigtest.KeylessOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	entry := m["verificationMaterial"].(map[string]any)["tlogEntries"].([]any)[0].(map[string]any)
	entry["canonicalizedBody"] = base64.StdEncoding.EncodeToString([]byte(`{"apiVersion":"0.0.1","kind":"rekord","spec":{"signature":{"format":"pgp"}}}`))
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := ociremote.WriteAttestationNewBundleFormat(img, raw, types.CosignSignPredicateType); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, img), false, `transparency log entry of a kind no cosign signature uses: "rekord"`)

	// The same in the .sig tag's Rekor bundle annotation.
	legacy := k.image("rekord-kind-legacy")
	if err := k.sigstore.SignKeylessLegacy(legacy, release, ghIssuer, sigtest.KeylessOptions{LogKind: "rekord"}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, legacy), false, `transparency log entry of a kind no cosign signature uses: "rekord"`)
}

// tlog_root: key signatures' log entries, checked against a trust root's
// Rekor logs, as tlog says.
func TestKeySignaturesLogEntries(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	engine := func(mode verify.Tlog) *verify.Engine {
		sc, err := verify.ParseScope("**")
		if err != nil {
			t.Fatal(err)
		}
		p := verify.Policy{Name: "logged-keys", Scopes: []verify.Scope{sc}, Mode: verify.Enforce,
			Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1, Tlog: mode, TlogRoot: "local"}}
		if errs := p.Validate(); len(errs) > 0 {
			t.Fatal(errs)
		}
		c, err := registry.New(registry.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return verify.NewEngine(&verify.Snapshot{ID: "logged", Policies: verify.Policies{p}, Keys: k.store,
			TrustRoots: map[string]*verify.TrustRoot{"local": k.root}}, c, verify.Options{})
	}
	logged, plain, elsewhere := k.image("logged"), k.image("plain"), k.image("elsewhere")
	if err := k.sigstore.SignLegacyLogged(logged, k.signers["k1"]); err != nil {
		t.Fatal(err)
	}
	if err := k.signers["k1"].SignLegacy(plain); err != nil {
		t.Fatal(err)
	}
	other, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.SignLegacyLogged(elsewhere, k.signers["k1"]); err != nil {
		t.Fatal(err)
	}
	require, ifPresent := engine(verify.TlogRequire), engine(verify.TlogIfPresent)
	v := decide(t, require, logged)
	want(t, v, true, "verified by k1")
	// The checked entry's integrated time is the signature's trusted time
	// (a policy artifact's issue time, for max_validity).
	if s := v.Cosign.Signatures; len(s) != 1 || s[0].SignedAt == "" {
		t.Errorf("a logged key signature has no signed_at: %+v", s)
	}
	if s := decide(t, ifPresent, plain).Cosign.Signatures; len(s) != 1 || s[0].SignedAt != "" {
		t.Errorf("an unlogged key signature has a signed_at: %+v", s)
	}
	want(t, decide(t, require, plain), false, "carries no transparency log entry")
	want(t, decide(t, ifPresent, plain), true, "verified by k1")
	// An entry in a log the trust root does not name does not count.
	want(t, decide(t, require, elsewhere), false, "not by k1")
	want(t, decide(t, ifPresent, elsewhere), false, "not by k1")
}

// An identity's Fulcio extensions must match too: a certificate for the
// right subject and issuer but without the required source repository
// does not count, in either form.
func TestKeylessExtensionsMustMatch(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	id := releaseWorkflow()
	id.Extensions.SourceRepositoryURI = "https://github.com/org/app"
	eng := k.engine(t, nil, []*verify.Identity{id}, "any", verify.TlogRequire)
	bundle, legacy := k.image("ext-bundle"), k.image("ext-legacy")
	if err := k.sigstore.SignKeyless(bundle, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := k.sigstore.SignKeylessLegacy(legacy, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, img := range []name.Digest{bundle, legacy} {
		want(t, decide(t, eng, img), false, "SourceRepositoryURI")
	}
}

// A .sig layer whose Rekor bundle or timestamp annotation does not parse
// is refused, naming the annotation, never read as "no log entry" (which
// would let a key signature pass under tlog = "if-present").
func TestMalformedLegacyAnnotationsDeny(t *testing.T) {
	k := newKeyless(t)
	eng := k.engine(t, []string{"k1"}, nil, "any", verify.TlogIfPresent)
	for ann, want_ := range map[string]string{
		static.BundleAnnotationKey:           "unreadable: unmarshaling bundle",
		static.RFC3161TimestampAnnotationKey: "unreadable: unmarshaling RFC3161 timestamp",
	} {
		img := k.image("malformed-" + strings.ReplaceAll(ann, "/", "-"))
		if err := k.signers["k1"].SignLegacyAnnotated(img, map[string]string{ann: "{not json"}); err != nil {
			t.Fatal(err)
		}
		want(t, decide(t, eng, img), false, want_)
	}
}
