package setup_test

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/setup"
	// The KMS providers, as signgate is built.
	"github.com/signgate/signgate/internal/testkit/sigtest"
	_ "github.com/signgate/signgate/keystore/kms/awskms"
	_ "github.com/signgate/signgate/keystore/kms/azurekms"
	_ "github.com/signgate/signgate/keystore/kms/gcpkms"
	_ "github.com/signgate/signgate/keystore/kms/vaultkms"
)

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pub(t *testing.T) string {
	s, err := sigtest.NewSigner()
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicPEM()
}

func TestValidConfig(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "release.pub", pub(t))
	p := write(t, dir, "config.toml", `
[daemon]
decision_deadline = "1200ms"

[keys.build]
pem = """`+pub(t)+`"""
[keys.release]
path = "release.pub"

[[policy]]
name = "sandbox"
scopes = ["localhost:5000/pause"]
mode = "allow"

[[policy]]
name = "prod"
scopes = ["registry.example.com/team/*", "*.example.com/**"]
[policy.cosign]
keys = ["build", "release"]
require = "all"
`)
	c, err := setup.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policies) != 2 || c.Policies[1].Cosign.Threshold != 2 || c.Daemon.DecisionDeadline.Milliseconds() != 1200 {
		t.Fatalf("parsed wrongly: %+v", c)
	}
	// Annotations are opt-in (issue 29 item 7): containerd applying them
	// costs a creation more than all of signgate's own handling, and the
	// decision log records the same per container ID.
	if c.Daemon.Annotate || !c.Daemon.Preverify {
		t.Fatalf("annotate defaults to false and preverify to true: %+v", c.Daemon)
	}
	on := write(t, dir, "on.toml", "[daemon]\nannotate = true\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n")
	if c, err := setup.Load(on); err != nil || !c.Daemon.Annotate {
		t.Fatalf("annotate = true: %v, %+v", err, c)
	}
	if c.Daemon.AllowCheckpointRestore {
		t.Fatal("checkpoint restores are allowed by default")
	}
	ckpt := write(t, dir, "ckpt.toml", "[daemon]\nallow_checkpoint_restore = true\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n")
	if c, err := setup.Load(ckpt); err != nil || !c.Daemon.AllowCheckpointRestore {
		t.Fatalf("allow_checkpoint_restore = true: %v, %+v", err, c)
	}
	if p := c.Policies.Match("registry.example.com/team/app", ""); p == nil || p.Name != "prod" {
		t.Fatalf("match: %+v", p)
	}
	snap, err := c.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ks := snap.Keys.Versions("release"); len(ks) != 1 || !strings.HasPrefix(ks[0].Source, "file:") {
		t.Fatalf("release key: %+v", ks)
	}
}

func TestConfigErrorsNameTheFault(t *testing.T) {
	good := pub(t)
	root := rootPEM(t)
	cases := []struct{ name, body, want string }{
		{"unknown key", "[daemon]\nnri_sokcet = \"x\"\n", "unknown key(s): daemon.nri_sokcet"},
		{"syntax", "[daemon]\nnri_socket = \"x\"\n[daemon\n", "config.toml:4"},
		{"bad duration", "[cache]\nallow_ttl = \"ten minutes\"\n", "cache.allow_ttl = \"ten minutes\""},
		{"deadline absurd", "[daemon]\ndecision_deadline = \"2m\"\n", "daemon.decision_deadline = 2m0s: at most 1m"},
		{"bad glob", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/a/[ab]\"]\nmode = \"allow\"\n", `policy[0] "p".scopes: scope "reg.io/a/[ab]"`},
		{"undefined key", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"nope\"]\n", `policy[0] "p".cosign.keys: key "nope" is not defined`},
		{"malformed pem", "[keys.k]\npem = \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n\"\n", `keys.k: key "k" (inline): malformed public key`},
		{"private key", "[keys.k]\npem = \"\"\"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n\"\"\"\n", "a private key must never be given"},
		{"missing key file", "[keys.k]\npath = \"/nonexistent/k.pub\"\n", `keys.k: key "k": open /nonexistent/k.pub`},
		{"count above keys", "[keys.a]\npem = \"\"\"" + good + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"a\"]\nrequire = \"2\"\n", "require = 2 but only 1 keys"},
		{"bad mode", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\nmode = \"warn\"\n", `mode = "warn"`},
		{"verifying policy without requirement", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n", `needs a [policy.cosign], [policy.notation] or [[policy.attestation]] requirement`},
		{"no policy", "", "no [[policy]] is defined"},
		{"cert not a CA", "[certs.leaf]\npem = \"\"\"" + leafPEM(t) + "\"\"\"\n", `certs.leaf: certificate "leaf" (inline): "CN=signer,O=signgate test,ST=WA,C=US" is neither a CA nor self-signed`},
		{"expired cert", "[certs.old]\npem = \"\"\"" + sigtest.ExpiredRootPEM() + "\"\"\"\n", `certs.old: certificate "old" (inline): "CN=expired root,O=signgate test" expired on`},
		{"undefined cert", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"nope\"]\n", `policy[0] "p".notation.certs: certificate "nope" is not defined`},
		{"tsa as root", "[certs.t]\nkind = \"tsa\"\npem = \"\"\"" + rootPEM(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"t\"]\n", `certificate "t" is a tsa certificate, not a ca`},
		{"bad identity", "[certs.r]\npem = \"\"\"" + rootPEM(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"r\"]\ntrusted_identities = [\"x509.subject: CN=only\"]\n", `policy[0] "p".notation: trust policy`},
		{"bad level", "[certs.r]\npem = \"\"\"" + rootPEM(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"r\"]\nlevel = \"lenient\"\n", `policy[0] "p".notation.level = "lenient": want "strict" or "permissive"`},
		{"kms scheme not allowed", "[keys.k]\nkms = \"sigstore-kms-evil://key\"\n", `keys.k.kms: KMS scheme "sigstore-kms-evil" is not supported by this build (supported: awskms, azurekms, gcpkms, hashivault, openbao); signgate never runs external KMS plugins`},
		{"kms reference malformed", "[keys.k]\nkms = \"gcpkms://projects/p/keyRings/r\"\n", `keys.k.kms: gcpkms://projects/p/keyRings/r: want gcpkms://`},
		{"kms and pem", "[keys.k]\nkms = \"hashivault://k\"\npem = \"x\"\n", `keys.k: give kms, pem or path, only one`},
		{"aws version pin", "[keys.k]\nkms = \"awskms:///alias/k\"\nversion = \"2\"\n", `keys.k.kms: awskms:///alias/k: AWS KMS has no versions`},
		{"version on a static key", "[keys.a]\npem = \"\"\"" + good + "\"\"\"\nversion = \"2\"\n", `keys.a: version and grace_period apply only to kms keys`},
		{"bad grace", "[keys.k]\nkms = \"hashivault://k\"\ngrace_period = \"-1h\"\n", `keys.k.grace_period = "-1h"`},
		{"staleness below two syncs", "[kms]\nsync_interval = \"5m\"\nmax_staleness = \"6m\"\n", `kms.max_staleness = "6m": must be at least twice kms.sync_interval`},
		{"sync too often", "[kms]\nsync_interval = \"1s\"\n", `kms.sync_interval = "1s": at least 10s`},
		{"vault token file missing", "[kms.vault]\ntoken_file = \"/nonexistent/token\"\n", `kms.vault.token_file: stat /nonexistent/token`},
		{"unknown kms setting", "[kms.aws]\nsecret_access_key = \"x\"\n", `unknown key(s): kms.aws.secret_access_key`},
		{"notation level audit", "[certs.r]\npem = \"\"\"" + rootPEM(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"r\"]\nlevel = \"audit\"\n", `policy[0] "p".notation.level = "audit": it does not establish who signed the image`},
		{"notation level skip", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\nmode = \"audit\"\n[policy.notation]\nlevel = \"skip\"\n", `policy[0] "p".notation.level = "skip": it does not establish who signed the image`},
		{"one key, two names", "[keys.build]\npem = \"\"\"" + good + "\"\"\"\n[keys.release]\npem = \"\"\"" + good + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"build\", \"release\"]\nrequire = \"all\"\n", `policy[0] "p".cosign.keys: keys "build" and "release" hold the same key (sha256:`},
		{"one root, two names", "[certs.a]\npem = \"\"\"" + root + "\"\"\"\n[certs.b]\npem = \"\"\"" + root + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"a\", \"b\"]\n", `policy[0] "p".notation.certs: certificates "a" and "b" hold the same certificate`},
		{"either with one kind", "[certs.r]\npem = \"\"\"" + rootPEM(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\nsignatures = \"either\"\n[policy.notation]\ncerts = [\"r\"]\n", `signatures = "either": combines kinds`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, t.TempDir(), "config.toml", c.body)
			_, err := setup.Load(p)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.toml") {
				t.Fatalf("error %q does not contain %q and the file name", err, c.want)
			}
		})
	}
}

func TestKMSKeys(t *testing.T) {
	p := write(t, t.TempDir(), "config.toml", `
[kms]
grace_period = "48h"
max_staleness = "24h"
[keys.release]
kms = "awskms:///alias/release"
[keys.pinned]
kms = "gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k/versions/3"
grace_period = "0s"
[[policy]]
name = "p"
scopes = ["reg.io/**"]
[policy.cosign]
keys = ["release", "pinned"]
`)
	c, err := setup.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.KMSKeys) != 2 || c.KMS.MaxStaleness != 24*time.Hour || c.KMS.SyncInterval != 5*time.Minute {
		t.Fatalf("kms: %+v %+v", c.KMSKeys, c.KMS)
	}
	pinned, release := c.KMSKeys[0], c.KMSKeys[1]
	if pinned.Ref.Pin != "3" || pinned.Grace != 0 || release.Ref.Scheme != "awskms" || release.Grace != 48*time.Hour {
		t.Fatalf("specs: %+v", c.KMSKeys)
	}
	// KMS keys are not in the static snapshot until synced.
	snap, err := c.Snapshot(t.Context())
	if err != nil || len(snap.Keys.Keys()) != 0 {
		t.Fatalf("snapshot: %v %v", snap, err)
	}
}

func rootPEM(t *testing.T) string {
	p, err := sigtest.NewPKI("signer")
	if err != nil {
		t.Fatal(err)
	}
	return p.RootPEM()
}

func leafPEM(t *testing.T) string {
	p, err := sigtest.NewPKI("signer")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leaf.Raw}))
}

func TestNotationPolicy(t *testing.T) {
	p := write(t, t.TempDir(), "config.toml", `
[keys.k]
pem = """`+pub(t)+`"""
[certs.root]
pem = """`+rootPEM(t)+`"""
[[policy]]
name = "dual"
scopes = ["reg.io/**"]
signatures = "either"
  [policy.cosign]
  keys = ["k"]
  [policy.notation]
  certs = ["root"]
  trusted_identities = ["x509.subject: C=US, ST=WA, O=signgate test, CN=signer"]
  level = "permissive"
`)
	c, err := setup.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	pol := c.Policies[0]
	if pol.Signatures != "either" || pol.Notation == nil || pol.Notation.Level != "permissive" || pol.Notation.Threshold != 1 {
		t.Fatalf("parsed: %+v %+v", pol, pol.Notation)
	}
	snap, err := c.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if cert, ok := snap.Keys.Cert("root"); !ok || cert.Kind != "ca" {
		t.Fatalf("cert: %+v", cert)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	c, err := setup.Load("../packaging/config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Policies) == 0 {
		t.Fatal("example has no policies")
	}
}

// A valid config that enforces nothing, or trusts the packaged placeholder
// key, says so (issue 11, item 9); one that enforces says nothing.
func TestWarnings(t *testing.T) {
	placeholder := "[keys.placeholder]\npem = \"\"\"\n-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEip53JySHT8hwUR6ot9pwBMSX1WW9\nVFj7mmWaDAGuM2ZBFHrt23YyEjHWGbgYonFQUPLD94TL45mg4o64PCwqzQ==\n-----END PUBLIC KEY-----\n\"\"\"\n"
	audit := placeholder + "[[policy]]\nname = \"catch-all\"\nscopes = [\"**\"]\nmode = \"audit\"\n[policy.cosign]\nkeys = [\"placeholder\"]\n"
	c, err := setup.Parse("config.toml", []byte(audit))
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{"no policy enforces: every image is admitted", "catch-all (audit)", "keys.placeholder is the packaged placeholder key"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	enforcing := "[keys.k]\npem = \"\"\"" + pub(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"k\"]\n"
	if c, err = setup.Parse("config.toml", []byte(enforcing)); err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 0 || c.EnforcingPolicies() != 1 {
		t.Errorf("an enforcing config warns %q (enforcing: %d)", w, c.EnforcingPolicies())
	}
}

// require = 2, a TOML integer, is the count the docs describe, as "2" is.
func TestRequireAsAnInteger(t *testing.T) {
	k := "[keys.a]\npem = \"\"\"" + pub(t) + "\"\"\"\n[keys.b]\npem = \"\"\"" + pub(t) + "\"\"\"\n"
	for _, req := range []string{"2", `"2"`} {
		c, err := setup.Parse("config.toml", []byte(k+"[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"a\", \"b\"]\nrequire = "+req+"\n"))
		if err != nil {
			t.Fatalf("require = %s: %v", req, err)
		}
		if th := c.Policies[0].Cosign.Threshold; th != 2 {
			t.Fatalf("require = %s: threshold %d", req, th)
		}
	}
	_, err := setup.Parse("config.toml", []byte(k+"[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n[policy.cosign]\nkeys = [\"a\", \"b\"]\nrequire = 1.5\n"))
	if err == nil || !strings.Contains(err.Error(), `want "any", "all" or a count`) || !strings.Contains(err.Error(), "config.toml") {
		t.Fatalf("require = 1.5: %v", err)
	}
}

func TestKeylessConfig(t *testing.T) {
	dir := t.TempDir()
	ss, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.WriteTrustedRoot(filepath.Join(dir, "trusted_root.json"), true); err != nil {
		t.Fatal(err)
	}
	good := `[trust_roots.sigstore]
path = "trusted_root.json"

[identities.release]
trust_root = "sigstore"
issuer = "https://token.actions.githubusercontent.com"
subject_regexp = 'https://github\.com/org/app/\.github/workflows/release\.yml@refs/tags/v.+'
source_repository_uri = "https://github.com/org/app"

[[policy]]
name = "apps"
scopes = ["reg.io/**"]
  [policy.cosign]
  identities = ["release"]
  tlog = "if-present"
`
	c, err := setup.Load(write(t, dir, "config.toml", good))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policies[0].Cosign
	if len(p.Identities) != 1 || p.Tlog != "if-present" || p.Rule() != "any of release" {
		t.Fatalf("parsed wrongly: %+v", p)
	}
	if id := c.Identities[0]; id.Extensions.SourceRepositoryURI != "https://github.com/org/app" || c.TrustRoots["sigstore"] == nil {
		t.Fatalf("parsed wrongly: %+v", id)
	}
	snap, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Signers["release"] == nil || snap.Signers["release"].Root.Name != "sigstore" {
		t.Fatalf("snapshot signers: %+v", snap.Signers)
	}

	bad := func(name, body, want string) {
		t.Run(name, func(t *testing.T) {
			_, err := setup.Load(write(t, dir, "bad.toml", body))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.toml") {
				t.Fatalf("error %v does not contain %q and the file name", err, want)
			}
		})
	}
	withPolicy := "\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n  [policy.cosign]\n  identities = [\"i\"]\n"
	root := "[trust_roots.r]\npath = \"trusted_root.json\"\n"
	bad("missing root file", "[trust_roots.r]\npath = \"nope.json\"\n", "trust_roots.r: open ")
	bad("not a trusted root", "[trust_roots.r]\npath = \"bad.toml\"\n", "trust_roots.r: ")
	bad("undefined root", "[identities.i]\ntrust_root = \"nope\"\nissuer = \"x\"\nsubject = \"y\"\n"+withPolicy, `identities.i.trust_root = "nope": not defined under [trust_roots]`)
	bad("no subject", root+"[identities.i]\ntrust_root = \"r\"\nissuer = \"x\"\n"+withPolicy, "identities.i: give subject or subject_regexp")
	bad("both subjects", root+"[identities.i]\ntrust_root = \"r\"\nissuer = \"x\"\nsubject = \"a\"\nsubject_regexp = \"b\"\n"+withPolicy, "identities.i: give subject or subject_regexp, one of them")
	bad("bad regexp", root+"[identities.i]\ntrust_root = \"r\"\nissuer = \"x\"\nsubject_regexp = \"(\"\n"+withPolicy, "identities.i.subject_regexp: error parsing regexp")
	bad("undefined identity", "[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n  [policy.cosign]\n  identities = [\"nobody\"]\n", `policy[0] "p".cosign.identities: identity "nobody" is not defined`)
	bad("bad tlog", root+"[identities.i]\ntrust_root = \"r\"\nissuer = \"x\"\nsubject = \"y\"\n"+withPolicy+"  tlog = \"sometimes\"\n", `tlog = "sometimes"`)
	bad("path and mirror", "[trust_roots.r]\npath = \"trusted_root.json\"\ntuf_mirror = \"https://tuf.example\"\n", "trust_roots.r: give path (a Sigstore trusted_root.json) or tuf_mirror")
	bad("mirror without root", "[trust_roots.r]\ntuf_mirror = \"https://tuf.example\"\n", "trust_roots.r: tuf_mirror needs tuf_root")
	bad("mirror not a URL", "[trust_roots.r]\ntuf_mirror = \"tuf.example\"\ntuf_root = \"trusted_root.json\"\n", `trust_roots.r.tuf_mirror = "tuf.example": want an http(s) URL`)
	bad("refresh too often", "[trust_roots.r]\ntuf_mirror = \"https://tuf.example\"\ntuf_root = \"trusted_root.json\"\nrefresh = \"10s\"\n", "trust_roots.r.refresh = 10s: at least 1m")
	bad("missing tuf root", "[trust_roots.r]\ntuf_mirror = \"https://tuf.example\"\ntuf_root = \"nope.json\"\n", "trust_roots.r.tuf_root: stat ")
	bad("undefined tlog root", "[keys.k]\npem = \"\"\""+pub(t)+"\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n  [policy.cosign]\n  keys = [\"k\"]\n  tlog_root = \"nope\"\n", `policy[0] "p".cosign.tlog_root = "nope": not defined under [trust_roots]`)
	bad("key and identity share a name", root+"[keys.i]\npem = \"\"\""+pub(t)+"\"\"\"\n[identities.i]\ntrust_root = \"r\"\nissuer = \"x\"\nsubject = \"y\"\n"+withPolicy, "identities.i: a key has this name too")
}

// With a relative --config, credential provider paths (resolved against
// its directory) reach the registry client absolute: a plugin is never a
// bare name exec would look up in $PATH.
func TestCredentialProviderPathsAreAbsolute(t *testing.T) {
	policy := "[keys.k]\npem = \"\"\"" + pub(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"k\"]\n"
	c, err := setup.Parse("signgate.toml", []byte(policy+"[registry.credential_providers]\nconfig = \"providers.yaml\"\nbin_dir = \".\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.RegistryConfig().CredentialProviders
	if !filepath.IsAbs(s.Config) || !filepath.IsAbs(s.BinDir) {
		t.Errorf("config %q, bin_dir %q: want absolute paths", s.Config, s.BinDir)
	}
}
