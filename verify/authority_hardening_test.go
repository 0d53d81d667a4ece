package verify_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// under level "permissive" notation-go only logs authenticTimestamp
// and expiry, so a short-lived certificate that expired last week verifies
// with no timestamp at all, though tsa + verify_timestamp="always" are set.
func TestNotationPermissiveEnforcesTimestamps(t *testing.T) {
	n, clock, issued, pki, _ := shortLivedNotary(t)
	bare := n.image("shortlived/bare")
	repo, err := n.reg.Repository(bare.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SignNotationAt(context.Background(), repo, bare, sigtest.JWS, issued.Add(time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	req := notaryReq("permissive", "any", nil, "service")
	req.TSA = []string{"tsa"}
	eng := shortLivedEngine(n, clock, req)
	v := decide(t, eng, bare)
	if v.Allowed {
		t.Errorf("expired short-lived cert, no timestamp, tsa+always, level permissive: ALLOWED (%s)", v.Reason)
	}
}

// under level "permissive" a plugin's "revoked" answer is only
// logged (notation-go: revocation is ActionLog at permissive).
func TestNotationPermissiveEnforcesPluginRevocation(t *testing.T) {
	e := newAuthorityEnv(t)
	img := e.image("managed/revoked-permissive")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	e.service(sigtest.AuthorityService{Revoked: []string{profile}})
	v := e.decide(verify.Policy{Notation: notaryReq("permissive", "any", []string{profile}, "signer")}, e.plugins(5*time.Second, 0), img)
	if v.Allowed {
		t.Errorf("revoked signing profile, level permissive: ALLOWED (%s) plugin=%+v", v.Reason, v.Notation.Plugins["signer"])
	}
}

// tsa + verify_timestamp="always" would mean nothing for a
// notary.x509.signingAuthority signature: notation-go never looks for a
// timestamp under that scheme. A requirement whose roots are all signing
// authorities' and that lists tsa is refused (setup refuses the config),
// not taken to have checked a timestamp.
func TestNotationSigningAuthorityWithTSAIsRefused(t *testing.T) {
	e := newAuthorityEnv(t)
	tsa, err := sigtest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	cert, err := keystore.ParseCertsPEM("tsa", "inline", keystore.CertTSA, []byte(tsa.RootPEM()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	signer, err := keystore.ParseCertsPEM("signer", "inline", keystore.CertSigningAuthority, []byte(e.svc.RootPEM()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if e.store, err = e.store.WithCerts(cert, signer); err != nil {
		t.Fatal(err)
	}
	img := e.image("managed/untimestamped")
	e.signAuthority(img, sigtest.AuthorityPlugin) // no timestamp
	req := notaryReq("strict", "any", []string{profile}, "signer")
	req.TSA = []string{"tsa"} // verify_timestamp = "always" (the default)
	v := e.decide(verify.Policy{Notation: req}, e.plugins(5*time.Second, 0), img)
	if v.Allowed || !strings.Contains(v.Reason, verify.ErrTSAUnderAuthority.Error()) {
		t.Errorf("signingAuthority signature without any timestamp, tsa+always: allowed=%v (%s)", v.Allowed, v.Reason)
	}
	// With a ca root listed too, tsa is for that root's signatures; the
	// service's verifies by its signed signing time.
	req.Roots = []string{"signer", "a"}
	want(t, e.decide(verify.Policy{Notation: req}, e.plugins(5*time.Second, 0), img), true, "verified by signer")
}

var _ name.Digest

// A plugin is never run under a kind="ca" root, even one its certs list
// (setup refuses that config): any holder of a certificate under the CA
// could name the plugin in an ordinary notary.x509 signature and claim a
// trusted signing profile, and notation-go would skip its own x509.subject
// and OCSP/CRL checks.
func TestNotationPluginNeverUnderACARoot(t *testing.T) {
	e := newAuthorityEnv(t)
	plugins := e.plugins(5*time.Second, 0)
	plugins[sigtest.AuthorityPlugin].Certs = []string{"signer", "a"}
	img := e.image("enterprise/app")
	repo, err := e.reg.Repository(img.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pki["a"].SignX509NamingPlugin(context.Background(), repo, img, sigtest.AuthorityPlugin, profileVersion); err != nil {
		t.Fatal(err)
	}
	// The enterprise CA's trusted identity is CN=release, not "signer a".
	req := notaryReq("strict", "any", []string{profile, "x509.subject: C=US, ST=WA, O=signgate test, CN=release"}, "signer", "a")
	v := e.decide(verify.Policy{Notation: req}, plugins, img)
	t.Logf("verdict: %v %s", v.Allowed, v.Reason)
	if v.Allowed {
		t.Errorf("CN=signer a (not a trusted identity) verified under ca root a by naming the plugin: %s", v.Reason)
	}
	if why := v.Notation.Rejections["a"]; !strings.Contains(why, verify.ErrPluginNotForScheme.Error()) {
		t.Errorf("rejection under a: %q", why)
	}
	if e.runs("verify-signature") != 0 {
		t.Error("the plugin verified a notary.x509 signature under a ca root")
	}
	// Without the plugin listed for a, the same signature is refused.
	plugins[sigtest.AuthorityPlugin].Certs = []string{"signer"}
	v = e.decide(verify.Policy{Notation: req}, plugins, img)
	t.Logf("control: %v %s", v.Allowed, v.Reason)
}

// a timestamp made after the
// short-lived certificate expired, and one from a TSA the policy does not
// trust, must not revive it. Neither TestNotationShortLivedCertificate nor
// TestNotationTimestamps covers these.
func TestNotationShortLivedBadTimestamps(t *testing.T) {
	n, clock, issued, pki, tsa := shortLivedNotary(t)
	other, err := sigtest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	signedAt := issued.Add(time.Hour)
	late, untrusted := n.image("shortlived/late"), n.image("shortlived/untrusted")
	for img, s := range map[name.Digest]struct {
		at  time.Time
		tsa *sigtest.TSA
	}{late: {clock.Now().Add(-time.Hour), tsa}, untrusted: {signedAt, other}} {
		repo, err := n.reg.Repository(img.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.SignStampedAt(context.Background(), repo, img, signedAt, s.at, s.tsa); err != nil {
			t.Fatalf("%s: %v", img, err)
		}
	}
	req := notaryReq("strict", "any", nil, "service")
	req.TSA = []string{"tsa"}
	eng := shortLivedEngine(n, clock, req)
	for _, img := range []name.Digest{late, untrusted} {
		v := decide(t, eng, img)
		t.Logf("%s: %v %s", img.Context().RepositoryStr(), v.Allowed, v.Reason)
		if v.Allowed {
			t.Errorf("%s allowed", img)
		}
	}
}

// one engine, two policies over the
// same image with different signing profiles: the plugin's cached "yes"
// for the dev policy must not answer for prod. No shipped test shares an
// engine across trust policies, so a cache key of the path alone passes
// them all.
func TestNotationPluginCacheIsPerTrustPolicy(t *testing.T) {
	e := newAuthorityEnv(t)
	img := e.image("managed/shared")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	sc, _ := verify.ParseScope("**")
	other := "arn:aws:signer:us-west-2:123456789012:/signing-profiles/other"
	pols := verify.Policies{
		{Name: "dev", Scopes: []verify.Scope{sc}, Namespaces: []string{"dev"}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", []string{profile}, "signer")},
		{Name: "prod", Scopes: []verify.Scope{sc}, Namespaces: []string{"prod"}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", []string{other}, "signer")},
	}
	eng := verify.NewEngine(&verify.Snapshot{ID: "m", Policies: pols, Keys: e.store, Plugins: e.plugins(5*time.Second, time.Hour)}, e.reg, verify.Options{})
	ask := func(ns string) *verify.Verdict {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return eng.Decide(ctx, verify.Request{Image: img, Namespace: ns})
	}
	if v := ask("dev"); !v.Allowed {
		t.Fatalf("dev: %s", v.Reason)
	}
	if v := ask("prod"); v.Allowed {
		t.Errorf("prod allowed on dev's cached plugin answer: %s", v.Reason)
	}
}

// Each run finds the executable setup checked, or refuses: one replaced
// (a rename over it) or rewritten since the config was loaded is not run,
// and nor is one never checked.
func TestNotationPluginReplacedAfterLoad(t *testing.T) {
	e := newAuthorityEnv(t)
	img := e.image("managed/replaced")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	req := notaryReq("strict", "any", []string{profile}, "signer")
	plugins := e.plugins(5*time.Second, 0)
	want(t, e.decide(verify.Policy{Notation: req}, plugins, img), true, "verified by signer")

	b, err := os.ReadFile(e.plugin)
	if err != nil {
		t.Fatal(err)
	}
	swap := e.plugin + ".new"
	if err := os.WriteFile(swap, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(swap, e.plugin); err != nil {
		t.Fatal(err)
	}
	runs := e.runs("get-plugin-metadata")
	v := e.decide(verify.Policy{Notation: req}, plugins, img)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["signer"]; !strings.Contains(why, "changed since the config was loaded") {
		t.Fatalf("rejection: %q", why)
	}
	if e.runs("get-plugin-metadata") != runs {
		t.Fatal("a replaced plugin was run")
	}
	// Checked again (a reload), it runs.
	want(t, e.decide(verify.Policy{Notation: req}, e.plugins(5*time.Second, 0), img), true, "verified by signer")

	unchecked := e.plugins(5*time.Second, 0)
	unchecked[sigtest.AuthorityPlugin].File = verify.PluginFile{}
	v = e.decide(verify.Policy{Notation: req}, unchecked, img)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["signer"]; !strings.Contains(why, "was not checked when the config was loaded") {
		t.Fatalf("rejection: %q", why)
	}
}

// A cached answer is for the plugin as it ran: another environment (the
// region, the credentials it finds) or another executable (reloaded after
// an upgrade) asks again.
func TestNotationPluginCacheKeyIsThePluginAsItRuns(t *testing.T) {
	t.Setenv("AWS_REGION", "us-west-2")
	e := newAuthorityEnv(t)
	img := e.image("managed/cachekey")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	req := notaryReq("strict", "any", []string{profile}, "signer")
	plugins := e.plugins(5*time.Second, time.Hour)
	plugins[sigtest.AuthorityPlugin].Env = []string{"AWS_*"}
	sc, _ := verify.ParseScope("**")
	pol := verify.Policies{{Name: "managed", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: req}}
	// One engine (one cache); a new snapshot per decision, so no verdict
	// is reused, only the plugin's answers.
	eng := verify.NewEngine(&verify.Snapshot{ID: "0", Policies: pol, Keys: e.store, Plugins: plugins}, e.reg, verify.Options{})
	snaps := 0
	ask := func(plugins map[string]*verify.NotationPlugin) {
		t.Helper()
		snaps++
		eng.Swap(&verify.Snapshot{ID: fmt.Sprint(snaps), Policies: pol, Keys: e.store, Plugins: plugins})
		want(t, decide(t, eng, img), true, "verified by signer")
	}
	ask(plugins)
	ask(plugins)
	if n := e.runs("verify-signature"); n != 1 {
		t.Fatalf("the same plugin, environment and signature: %d runs; want 1 (cached)", n)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	ask(plugins)
	if n := e.runs("verify-signature"); n != 2 {
		t.Fatalf("after AWS_REGION changed: %d runs in all; want 2", n)
	}
	// The plugin upgraded in place and the config reloaded.
	b, err := os.ReadFile(e.plugin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.plugin+".new", b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(e.plugin+".new", e.plugin); err != nil {
		t.Fatal(err)
	}
	reloaded := e.plugins(5*time.Second, time.Hour)
	reloaded[sigtest.AuthorityPlugin].Env = []string{"AWS_*"}
	ask(reloaded)
	if n := e.runs("verify-signature"); n != 3 {
		t.Fatalf("after the executable was replaced and reloaded: %d runs in all; want 3", n)
	}
}

// What a plugin says reaches the verdict and the log as one short line,
// however long the signer made what the plugin quotes (the profile).
func TestNotationPluginReasonsAreClipped(t *testing.T) {
	e := newAuthorityEnv(t)
	img := e.image("managed/long")
	repo, err := e.reg.Repository(img.Context())
	if err != nil {
		t.Fatal(err)
	}
	long := profile + strings.Repeat("x", 5000) + "/v1"
	if err := e.svc.SignNotationAuthority(context.Background(), repo, img, sigtest.JWS, sigtest.AuthorityPlugin, long); err != nil {
		t.Fatal(err)
	}
	v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "signer")}, e.plugins(5*time.Second, 0), img)
	want(t, v, false, "verified by none")
	why := v.Notation.Rejections["signer"]
	if !strings.Contains(why, "is not a trusted identity") && !strings.Contains(why, "...") {
		t.Fatalf("rejection: %q", why)
	}
	if len(why) > 1000 || len(v.Reason) > 1500 {
		t.Fatalf("the plugin's reason reached the verdict whole: %d bytes", len(why))
	}
}
