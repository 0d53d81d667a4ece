package verify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-go/dir"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// A managed signing service (AWS Signer) signs with the
// notary.x509.signingAuthority scheme, under a root it shares with all its
// customers; the signature names a verification plugin, which checks the
// signing profile (the trusted identity) and asks the service whether the
// profile is revoked.
const (
	profile        = "arn:aws:signer:us-west-2:123456789012:/signing-profiles/app"
	profileVersion = profile + "/v1"
)

// authorityEnv: newNotaryEnv, plus the signing authority's root "signer"
// (kind signing_authority), the same root as a ca ("signer-as-ca"), root
// "a" as a signing authority ("a-as-authority"), and the test plugin
// installed in a directory of the test's own.
type authorityEnv struct {
	*notaryEnv
	svc    *sigtest.PKI
	plugin string // the plugin's absolute path
	ran    string // what the plugin appends each run to
}

func newAuthorityEnv(t *testing.T) *authorityEnv {
	n := newNotaryEnv(t)
	svc, err := sigtest.NewPKI("signing service")
	if err != nil {
		t.Fatal(err)
	}
	var certs []*keystore.Cert
	for _, c := range []struct{ name, kind, pem string }{
		{"a", keystore.CertCA, n.pki["a"].RootPEM()},
		{"signer", keystore.CertSigningAuthority, svc.RootPEM()},
		{"signer-as-ca", keystore.CertCA, svc.RootPEM()},
		{"a-as-authority", keystore.CertSigningAuthority, n.pki["a"].RootPEM()},
	} {
		cert, err := keystore.ParseCertsPEM(c.name, "inline", c.kind, []byte(c.pem), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, cert)
	}
	if n.store, err = n.store.WithCerts(certs...); err != nil {
		t.Fatal(err)
	}
	e := &authorityEnv{notaryEnv: n, svc: svc, ran: filepath.Join(t.TempDir(), "ran")}
	if e.plugin, err = sigtest.BuildAuthorityPlugin(t.TempDir(), sigtest.AuthorityPlugin); err != nil {
		t.Fatal(err)
	}
	e.service(sigtest.AuthorityService{})
	return e
}

func (e *authorityEnv) service(s sigtest.AuthorityService) {
	e.t.Helper()
	s.Ran = e.ran
	if err := s.Write(e.plugin); err != nil {
		e.t.Fatal(err)
	}
}

// signAuthority signs img as the service does, naming plugin.
func (e *authorityEnv) signAuthority(img name.Digest, plugin string) {
	e.t.Helper()
	repo, err := e.reg.Repository(img.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.SignNotationAuthority(context.Background(), repo, img, sigtest.JWS, plugin, profileVersion); err != nil {
		e.t.Fatal(err)
	}
}

// plugins is the config naming the test plugin, with timeout and cache.
func (e *authorityEnv) plugins(timeout, ttl time.Duration) map[string]*verify.NotationPlugin {
	return map[string]*verify.NotationPlugin{sigtest.AuthorityPlugin: pluginAt(e.t, sigtest.AuthorityPlugin, e.plugin, timeout, ttl, "signer")}
}

// pluginAt is the config naming the plugin at path, its file identified
// as setup does.
func pluginAt(t *testing.T, name, path string, timeout, ttl time.Duration, certs ...string) *verify.NotationPlugin {
	t.Helper()
	f, err := verify.StatPluginFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &verify.NotationPlugin{Name: name, Path: path, File: f, Timeout: timeout, CacheTTL: ttl, Certs: certs}
}

func (e *authorityEnv) engine(p verify.Policy, plugins map[string]*verify.NotationPlugin, opts verify.Options) *verify.Engine {
	sc, _ := verify.ParseScope("**")
	p.Name, p.Scopes, p.Mode = "managed", []verify.Scope{sc}, verify.Enforce
	return verify.NewEngine(&verify.Snapshot{ID: "m", Policies: verify.Policies{p}, Keys: e.store, Plugins: plugins}, e.reg, opts)
}

func (e *authorityEnv) decide(p verify.Policy, plugins map[string]*verify.NotationPlugin, img name.Digest) *verify.Verdict {
	e.t.Helper()
	return decide(e.t, e.engine(p, plugins, verify.Options{}), img)
}

// runs is how many times the plugin ran command.
func (e *authorityEnv) runs(command string) int {
	b, _ := os.ReadFile(e.ran)
	return strings.Count(string(b), " "+command+"\n")
}

func TestNotationSigningAuthority(t *testing.T) {
	t.Parallel()
	e := newAuthorityEnv(t)
	plugins := e.plugins(5*time.Second, time.Minute)
	img := e.image("managed/app")
	e.signAuthority(img, sigtest.AuthorityPlugin)

	v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "signer")}, plugins, img)
	want(t, v, true, "verified by signer")
	a := v.Notation.Plugins["signer"]
	if a == nil || a.Plugin != sigtest.AuthorityPlugin || a.Results["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"] != "ok" || a.Results["SIGNATURE_VERIFIER.REVOCATION_CHECK"] != "ok" {
		t.Fatalf("the plugin's answers are not in the verdict: %+v", a)
	}

	t.Run("another signing profile", func(t *testing.T) {
		v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{"arn:aws:signer:us-west-2:123456789012:/signing-profiles/other"}, "signer")}, plugins, img)
		want(t, v, false, "verified by none")
		if !strings.Contains(v.Notation.Rejections["signer"], "is not a trusted identity") {
			t.Fatalf("rejection: %q", v.Notation.Rejections["signer"])
		}
	})
	t.Run("any identity under a shared root", func(t *testing.T) {
		v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "signer")}, plugins, img)
		want(t, v, false, "name the signing profiles")
	})
	t.Run("signing authority signature under a ca root", func(t *testing.T) {
		v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "signer-as-ca")}, plugins, img)
		want(t, v, false, "verified by none")
		// The plugin the signature names is not run under a ca root;
		// were it, notation-go would refuse the chain: `is of kind "ca"`.
		if why := v.Notation.Rejections["signer-as-ca"]; !strings.Contains(why, verify.ErrPluginNotForScheme.Error()) {
			t.Fatalf("rejection: %q", why)
		}
	})
	t.Run("notary.x509 signature under a signing authority root", func(t *testing.T) {
		plain := e.image("managed/plain")
		e.sign(plain, "a", sigtest.JWS)
		v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{"x509.subject: C=US, ST=WA, O=signgate test, CN=signer a"}, "a-as-authority")}, plugins, plain)
		want(t, v, false, "verified by none")
		if why := v.Notation.Rejections["a-as-authority"]; !strings.Contains(why, `is of kind "signing_authority"`) {
			t.Fatalf("rejection: %q", why)
		}
		// The same signature under the same root as a ca verifies.
		want(t, e.decide(verify.Policy{Notation: notaryReq("strict", "any", nil, "a")}, plugins, plain), true, "verified by a")
	})
}

// The service says the signing profile is revoked, or cannot be reached:
// denied, saying which.
func TestNotationPluginRevocation(t *testing.T) {
	t.Parallel()
	e := newAuthorityEnv(t)
	img := e.image("managed/revoked")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	req := notaryReq("strict", "any", []string{profile}, "signer")

	plugins := e.plugins(5*time.Second, time.Minute)
	e.service(sigtest.AuthorityService{Revoked: []string{profile}})
	v := e.decide(verify.Policy{Notation: req}, plugins, img)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["signer"]; !strings.Contains(why, "is revoked") {
		t.Fatalf("rejection: %q", why)
	}
	if got := v.Notation.Plugins["signer"].Results["SIGNATURE_VERIFIER.REVOCATION_CHECK"]; !strings.Contains(got, "revoked") {
		t.Fatalf("the verdict does not hold the revocation answer: %q", got)
	}

	e.service(sigtest.AuthorityService{Mode: "unreachable"})
	v = e.decide(verify.Policy{Notation: req}, plugins, img)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["signer"]; !strings.Contains(why, "unable to reach the signing service") {
		t.Fatalf("rejection: %q", why)
	}
}

// A plugin that hangs, crashes or answers outside its protocol denies, the
// hung one within its timeout (its children too: they hold its output).
func TestNotationPluginMisbehaves(t *testing.T) {
	t.Parallel()
	e := newAuthorityEnv(t)
	img := e.image("managed/misbehaves")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	req := notaryReq("strict", "any", []string{profile}, "signer")
	for mode, why := range map[string]string{
		"hang":     "no answer within 500ms",
		"crash":    "without an error in the plugin protocol",
		"nonsense": "not the plugin protocol's JSON",
		"partial":  "gave no answer for SIGNATURE_VERIFIER.REVOCATION_CHECK",
	} {
		e.service(sigtest.AuthorityService{Mode: mode})
		start := time.Now()
		v := e.decide(verify.Policy{Notation: req}, e.plugins(500*time.Millisecond, 0), img)
		want(t, v, false, "verified by none")
		if got := v.Notation.Rejections["signer"]; !strings.Contains(got, why) || !strings.Contains(got, sigtest.AuthorityPlugin) {
			t.Errorf("%s: rejection %q; want it to name the plugin and say %q", mode, got, why)
		}
		if took := time.Since(start); mode == "hang" && took > 3*time.Second {
			t.Errorf("hang: the decision took %v; the plugin's timeout is 500ms", took)
		}
	}
}

// A plugin verifies only under the roots its certs list: notation-go lets
// it replace its own identity and revocation checks, and the signer names
// it, so a signer under an enterprise CA naming the managed service's
// plugin would otherwise have it judge in place of the CA's identities and
// CRLs.
func TestNotationPluginOnlyForItsRoots(t *testing.T) {
	t.Parallel()
	e := newAuthorityEnv(t)
	plugins := e.plugins(5*time.Second, 0)
	plugins[sigtest.AuthorityPlugin].Certs = []string{"signer"}
	// A signer under root a, naming the service's plugin (which would
	// answer yes: it trusts the profile).
	img := e.image("managed/borrowed")
	repo, err := e.reg.Repository(img.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pki["a"].SignNotationAuthority(context.Background(), repo, img, sigtest.JWS, sigtest.AuthorityPlugin, profileVersion); err != nil {
		t.Fatal(err)
	}
	v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "a-as-authority")}, plugins, img)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["a-as-authority"]; !strings.Contains(why, "certs do not list this root") {
		t.Fatalf("rejection: %q", why)
	}
	if e.runs("verify-signature") != 0 {
		t.Fatal("the plugin verified a signature under a root it is not for")
	}
	// Listed for that root, the same signature verifies: the plugin was
	// the only thing in the way.
	plugins[sigtest.AuthorityPlugin].Certs = []string{"signer", "a-as-authority"}
	want(t, e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "a-as-authority")}, plugins, img), true, "verified by a-as-authority")
}

// A plugin gets the basics of signgate's environment and what its env
// names, nothing else: not a token signgate holds for another service.
func TestNotationPluginEnvironment(t *testing.T) {
	t.Setenv("SIGNGATE_TEST_VAULT_TOKEN", "hvs.secret")
	t.Setenv("AWS_REGION", "us-west-2")
	e := newAuthorityEnv(t)
	img := e.image("managed/env")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	e.service(sigtest.AuthorityService{Mode: "env"})
	plugins := e.plugins(5*time.Second, 0)
	plugins[sigtest.AuthorityPlugin].Env = []string{"AWS_*"}
	v := e.decide(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "signer")}, plugins, img)
	why := v.Notation.Rejections["signer"]
	if !strings.Contains(why, "env: ") || !strings.Contains(why, "AWS_REGION") || strings.Contains(why, "SIGNGATE_TEST_VAULT_TOKEN") {
		t.Fatalf("the plugin saw: %q; want AWS_REGION and not the token", why)
	}
}

// A signature naming a plugin the config does not name is denied, naming
// it; a plugin of that name in notation's own plugin directory is never
// run, nor one the config names for another name.
func TestNotationPluginNotNamed(t *testing.T) {
	e := newAuthorityEnv(t)
	// notation's default directory, as notation-go finds it.
	libexec := t.TempDir()
	old := dir.UserLibexecDir
	dir.UserLibexecDir = libexec
	t.Cleanup(func() { dir.UserLibexecDir = old })
	const planted = "io.signgate.test.planted"
	plantedPath, err := sigtest.BuildAuthorityPlugin(filepath.Join(libexec, "plugins", planted), planted)
	if err != nil {
		t.Fatal(err)
	}
	plantedRan := filepath.Join(t.TempDir(), "planted-ran")
	if err := (sigtest.AuthorityService{Ran: plantedRan}).Write(plantedPath); err != nil {
		t.Fatal(err)
	}
	img := e.image("managed/unnamed")
	e.signAuthority(img, planted)
	req := notaryReq("strict", "any", []string{profile}, "signer")
	for what, plugins := range map[string]map[string]*verify.NotationPlugin{
		"no plugins":      nil,
		"another plugin":  e.plugins(5*time.Second, 0),
		"the planted one": {planted + ".not": pluginAt(t, planted+".not", plantedPath, time.Second, 0, "signer")},
	} {
		v := e.decide(verify.Policy{Notation: req}, plugins, img)
		want(t, v, false, "verified by none")
		if why := v.Notation.Rejections["signer"]; !strings.Contains(why, `"`+planted+`"`) || !strings.Contains(why, "does not name it under [notation_plugins]") {
			t.Errorf("%s: rejection %q does not name the plugin", what, why)
		}
	}
	if _, err := os.Stat(plantedRan); err == nil {
		t.Fatal("the plugin planted in notation's plugin directory was run")
	}
	if e.runs("get-plugin-metadata") != 0 {
		t.Fatal("a plugin the signature did not name was run")
	}
}

// The plugin's answers are reused for the same signature until their TTL,
// by the engine's clock, as fetched CRLs are; then it is asked again.
func TestNotationPluginAnswersCached(t *testing.T) {
	t.Parallel()
	e := newAuthorityEnv(t)
	img := e.image("managed/cached")
	e.signAuthority(img, sigtest.AuthorityPlugin)
	clock := newTestClock()
	eng := e.engine(verify.Policy{Notation: notaryReq("strict", "any", []string{profile}, "signer")}, e.plugins(5*time.Second, 5*time.Minute),
		verify.Options{Now: clock.Now, AllowTTL: time.Minute})
	want(t, decide(t, eng, img), true, "verified by signer")
	clock.Advance(2 * time.Minute) // the verdict has expired; the answer has not
	v := decide(t, eng, img)
	want(t, v, true, "verified by signer")
	if v.Cached || !v.Notation.Plugins["signer"].Cached {
		t.Fatalf("want a new verification with the plugin's cached answer: verdict cached=%v, answer %+v", v.Cached, v.Notation.Plugins["signer"])
	}
	if n := e.runs("verify-signature"); n != 1 {
		t.Fatalf("the plugin verified %d times; want once", n)
	}
	clock.Advance(5 * time.Minute)
	want(t, decide(t, eng, img), true, "verified by signer")
	if n := e.runs("verify-signature"); n != 2 {
		t.Fatalf("after the answer's TTL the plugin verified %d times in all; want twice", n)
	}
}
