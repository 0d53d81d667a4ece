package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

type notaryEnv struct {
	*env
	pki   map[string]*sigtest.PKI
	store *keystore.Store
	reg   *registry.Client
}

// newNotaryEnv: a registry without the referrers API (notation then uses
// the referrers tag, as with Debian's distribution registry), cosign key k1,
// and two PKIs, "a" and "b", whose roots are in the keystore.
func newNotaryEnv(t *testing.T) *notaryEnv {
	e := newEnv(t, false, 1)
	n := &notaryEnv{env: e, pki: map[string]*sigtest.PKI{}}
	var certs []*keystore.Cert
	for _, name := range []string{"a", "b"} {
		p, err := sigtest.NewPKI("signer " + name)
		if err != nil {
			t.Fatal(err)
		}
		n.pki[name] = p
		c, err := keystore.ParseCertsPEM(name, "inline", keystore.CertCA, []byte(p.RootPEM()), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	st, err := e.store.WithCerts(certs...)
	if err != nil {
		t.Fatal(err)
	}
	n.store = st
	if n.reg, err = registry.New(registry.Config{}); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *notaryEnv) sign(img name.Digest, pki, envelope string) {
	n.t.Helper()
	repo, err := n.reg.Repository(img.Context())
	if err != nil {
		n.t.Fatal(err)
	}
	if err := n.pki[pki].SignNotation(context.Background(), repo, img, envelope); err != nil {
		n.t.Fatal(err)
	}
}

func (n *notaryEnv) decide(p verify.Policy, img name.Digest) *verify.Verdict {
	n.t.Helper()
	sc, _ := verify.ParseScope("**")
	p.Name, p.Scopes = "test", []verify.Scope{sc}
	if p.Mode == "" {
		p.Mode = verify.Enforce
	}
	eng := verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{p}, Keys: n.store}, n.reg, verify.Options{})
	return decide(n.t, eng, img)
}

func notaryReq(level, rule string, identities []string, roots ...string) *verify.NotationRequirement {
	th, _ := verify.ParseThreshold(rule, len(roots))
	if identities == nil {
		identities = []string{"*"}
	}
	return &verify.NotationRequirement{Roots: roots, Identities: identities, Level: level, Threshold: th}
}

func TestNotation(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	for _, env := range []string{sigtest.JWS, sigtest.COSE} {
		img := n.image("notary/" + strings.NewReplacer("/", "-", "+", "-").Replace(env))
		n.sign(img, "a", env)
		v := n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "a")}, img)
		want(t, v, true, "notation: requires any of a; verified by a")
		if !strings.Contains(v.Notation.Signers["a"], "CN=signer a") {
			t.Errorf("%s: signer not reported: %+v", env, v.Notation)
		}
	}

	t.Run("untrusted root", func(t *testing.T) {
		img := n.image("notary/untrusted")
		n.sign(img, "b", sigtest.JWS)
		v := n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "a")}, img)
		want(t, v, false, "verified by none")
		if v.Notation.Rejections["a"] == "" {
			t.Fatalf("no explanation for root a: %+v", v.Notation)
		}
	})
	t.Run("identity mismatch", func(t *testing.T) {
		img := n.image("notary/identity")
		n.sign(img, "a", sigtest.JWS)
		v := n.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{"x509.subject: C=US, ST=WA, O=signgate test, CN=someone else"}, "a")}, img)
		want(t, v, false, "verified by none")
		if !strings.Contains(strings.ToLower(v.Notation.Rejections["a"]), "identit") {
			t.Errorf("the rejection does not mention the identity: %q", v.Notation.Rejections["a"])
		}
		v = n.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{"x509.subject: C=US, ST=WA, O=signgate test, CN=signer a"}, "a")}, img)
		want(t, v, true, "verified by a")
	})
	t.Run("unsigned", func(t *testing.T) {
		want(t, n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "a")}, n.image("notary/unsigned")), false, "no Notary Project signatures found")
	})
	t.Run("all of two roots", func(t *testing.T) {
		img := n.image("notary/two")
		n.sign(img, "a", sigtest.JWS)
		p := verify.Policy{Notation: notaryReq("strict", "all", nil, "a", "b")}
		want(t, n.decide(p, img), false, "requires all of a, b; verified by a")
		n.sign(img, "b", sigtest.COSE)
		want(t, n.decide(p, img), true, "verified by a, b")
	})
}

func TestCosignAndNotationTogether(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	th, _ := verify.ParseThreshold("any", 1)
	cosignReq := &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: th}
	onlyCosign := n.image("mixed/cosign")
	if err := n.signers["k1"].SignBundle(onlyCosign); err != nil {
		t.Fatal(err)
	}
	dual := n.image("mixed/dual")
	if err := n.signers["k1"].SignLegacy(dual); err != nil {
		t.Fatal(err)
	}
	n.sign(dual, "a", sigtest.JWS)

	both := verify.Policy{Cosign: cosignReq, Notation: notaryReq("strict", "any", nil, "a"), Signatures: verify.Both}
	either := both
	either.Signatures = verify.Either

	want(t, n.decide(both, onlyCosign), false, "(both of cosign and notation)")
	want(t, n.decide(either, onlyCosign), true, "(either of cosign and notation)")
	v := n.decide(both, dual)
	want(t, v, true, "cosign: requires any of k1; verified by k1; notation: requires any of a; verified by a")
	if v.Cosign == nil || v.Notation == nil {
		t.Fatal("a dual-signed image should be explained per kind")
	}
}

func TestNotationRevocation(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	// A CRL responder whose answer the test chooses.
	pki, revoked := crlPKI(t)
	// An unreachable responder: a port nothing listens on.
	deadPKI, err := sigtest.NewPKIWithCRL("dead crl signer", "http://127.0.0.1:1/root.crl")
	if err != nil {
		t.Fatal(err)
	}
	var certs []*keystore.Cert
	for name, p := range map[string]*sigtest.PKI{"crl": pki, "dead": deadPKI} {
		c, err := keystore.ParseCertsPEM(name, "inline", keystore.CertCA, []byte(p.RootPEM()), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if n.store, err = n.store.WithCerts(certs...); err != nil {
		t.Fatal(err)
	}
	n.pki["crl"], n.pki["dead"] = pki, deadPKI

	good := n.image("revocation/good")
	n.sign(good, "crl", sigtest.JWS)
	want(t, n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "crl")}, good), true, "verified by crl")

	revoked.Store(true)
	bad := n.image("revocation/revoked")
	n.sign(bad, "crl", sigtest.JWS)
	// A fresh engine: the CRL cache belongs to the engine, as a reload would.
	v := n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "crl")}, bad)
	want(t, v, false, "verified by none")
	if !strings.Contains(v.Notation.Rejections["crl"], "revoked") {
		t.Fatalf("the rejection does not say revoked: %q", v.Notation.Rejections["crl"])
	}

	dead := n.image("revocation/unreachable")
	n.sign(dead, "dead", sigtest.JWS)
	enforce := notaryReq("strict", "any", nil, "dead")
	want(t, n.decide(verify.Policy{Notation: enforce}, dead), false, "verified by none")
	logOnly := notaryReq("strict", "any", nil, "dead")
	logOnly.Revocation = "log"
	want(t, n.decide(verify.Policy{Notation: logOnly}, dead), true, "verified by dead")
}

// A signature made while its certificate was valid stays valid after the
// certificate expires, when a trusted TSA timestamped it; without a
// timestamp, it does not. notation-go judges certificates by the wall
// clock, which the engine's clock does not reach, so instead of waiting for
// a certificate to expire the test signs, ten minutes back, with one of the
// same root's that has expired since.
func TestNotationTimestamps(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	tsa, err := sigtest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	pki, err := sigtest.NewPKI("short-lived signer")
	if err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().Add(-10 * time.Minute)
	old, err := pki.ExpiredLeaf(signedAt, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	root, err := keystore.ParseCertsPEM("short", "inline", keystore.CertCA, []byte(pki.RootPEM()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tsaRoot, err := keystore.ParseCertsPEM("tsa", "inline", keystore.CertTSA, []byte(tsa.RootPEM()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n.store, err = n.store.WithCerts(root, tsaRoot); err != nil {
		t.Fatal(err)
	}
	// stamped and expired: signed in time by the certificate that has
	// expired since, with a timestamp and without; plain: by the valid one.
	stamped, expired, plain := n.image("timestamp/stamped"), n.image("timestamp/expired"), n.image("timestamp/plain")
	for img, by := range map[name.Digest]*sigtest.TSA{stamped: tsa, expired: nil} {
		repo, err := n.reg.Repository(img.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := old.SignNotationAt(context.Background(), repo, img, sigtest.JWS, signedAt, by); err != nil {
			t.Fatal(err)
		}
	}
	n.pki["short"] = pki
	n.sign(plain, "short", sigtest.JWS)

	always := notaryReq("strict", "any", nil, "short")
	always.TSA = []string{"tsa"}
	afterExpiry := notaryReq("strict", "any", nil, "short")
	afterExpiry.TSA, afterExpiry.AfterCertExpiry = []string{"tsa"}, true

	// "always": with TSA roots listed, a signature must carry a timestamp.
	v := n.decide(verify.Policy{Notation: always}, plain)
	want(t, v, false, "no timestamp countersignature")
	// "after_cert_expiry": while the certificate is valid, none is needed.
	want(t, n.decide(verify.Policy{Notation: afterExpiry}, plain), true, "verified by short")

	// The timestamp proves the expired certificate signed in time.
	want(t, n.decide(verify.Policy{Notation: always}, stamped), true, "verified by short")
	want(t, n.decide(verify.Policy{Notation: afterExpiry}, stamped), true, "verified by short")
	// Expired, and nothing proves it signed in time.
	v = n.decide(verify.Policy{Notation: afterExpiry}, expired)
	want(t, v, false, "verified by none")
	if !strings.Contains(v.Notation.Rejections["short"], "no timestamp countersignature") {
		t.Fatalf("the rejection does not say why: %q", v.Notation.Rejections["short"])
	}
	// And with no TSA roots at all, the expired certificate is simply expired.
	v = n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "short")}, expired)
	want(t, v, false, "verified by none")
	if !strings.Contains(v.Notation.Rejections["short"], "expired") {
		t.Fatalf("the rejection does not say expired: %q", v.Notation.Rejections["short"])
	}
	// Without a timestamp, the expired certificate's stamped signature would
	// not count either: the timestamp is what verified it above.
	v = n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "short")}, stamped)
	want(t, v, false, "verified by none")
}

// notation's "audit" and "skip" levels do not establish who signed: under
// them an untrusted signer would be reported as "verified by a" and counted
// (issue 11, item 3). The verifier refuses them; a signature from another
// root is never counted.
func TestNotationLevels(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	untrusted := n.image("levels/untrusted")
	n.sign(untrusted, "b", sigtest.JWS)
	want(t, n.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "a")}, untrusted), false, "verified by none")
	want(t, n.decide(verify.Policy{Notation: notaryReq("permissive", "any", nil, "a")}, untrusted), false, "verified by none")
	for _, level := range []string{"audit", "skip"} {
		for _, mode := range []verify.Mode{verify.Enforce, verify.Audit} {
			v := n.decide(verify.Policy{Mode: mode, Notation: notaryReq(level, "any", nil, "a")}, untrusted)
			if v.Verified || strings.Contains(v.Reason, "verified by a") || !strings.Contains(v.Reason, "does not establish who signed") {
				t.Errorf("level %s, mode %s: verified=%v reason %q; want unverified, naming the level", level, mode, v.Verified, v.Reason)
			}
			if v.Cause != verify.CauseMisconfigured {
				t.Errorf("level %s, mode %s: cause %q", level, mode, v.Cause)
			}
			if v.Allowed != (mode == verify.Audit) {
				t.Errorf("level %s, mode %s: allowed=%v", level, mode, v.Allowed)
			}
		}
	}
}

// Two certificate names for one root count once toward a threshold.
func TestNotationRootsCountByMaterial(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	alias, err := keystore.ParseCertsPEM("a-again", "inline", keystore.CertCA, []byte(n.pki["a"].RootPEM()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := n.store.Cert("a")
	b, _ := n.store.Cert("b")
	if n.store, err = n.store.WithCerts(a, b, alias); err != nil {
		t.Fatal(err)
	}
	img := n.image("material/one-root")
	n.sign(img, "a", sigtest.JWS)
	v := n.decide(verify.Policy{Notation: notaryReq("strict", "all", nil, "a", "a-again")}, img)
	want(t, v, false, "but they are 1 distinct root(s): a and a-again are one key")
	n.sign(img, "b", sigtest.JWS)
	want(t, n.decide(verify.Policy{Notation: notaryReq("strict", "all", nil, "a", "b")}, img), true, "verified by a, b")
}
