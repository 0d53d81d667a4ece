package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/verify"
)

// Keyless as users sign: the real cosign v3 CLI, an ID token from an OIDC
// issuer, a certificate from a real Fulcio (github.com/sigstore/fulcio,
// ephemeral CA, no CT log), an RFC 3161 timestamp from a real timestamp
// authority (github.com/sigstore/timestamp-authority) and, for bundles, an
// entry in a real Rekor v2 log (github.com/sigstore/rekor-tiles, POSIX
// storage), all on loopback; the trusted root made by `cosign trusted-root
// create`. Bundles must be in the log (tlog = "require"). The .sig tag form
// can only be logged in a Rekor v1, which does not run here, so its policy
// says tlog = "off" and the timestamp proves the signing time. Through
// real containerd.
func TestRealCosignKeyless(t *testing.T) {
	e := need(t)
	oidc, err := sigtest.NewOIDCIssuer()
	if err != nil {
		t.Fatal(err)
	}
	defer oidc.Close()
	dir := filepath.Join(e.Dir, "keyless-cli")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	port := func() int {
		p, err := harness.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	fulcioCfg := filepath.Join(dir, "fulcio.json")
	if err := os.WriteFile(fulcioCfg, []byte(fmt.Sprintf(`{"OIDCIssuers": {%q: {"IssuerURL": %q, "ClientID": "sigstore", "Type": "email"}}}`, oidc.URL, oidc.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	fulcio := fmt.Sprintf("http://127.0.0.1:%d", port())
	if _, err := e.StartProcess("fulcio", filepath.Join(e.Bin, "fulcio"), "serve", "--ca", "ephemeralca", "--config-path", fulcioCfg,
		"--host", "127.0.0.1", "--port", strings.TrimPrefix(fulcio, "http://127.0.0.1:"), "--grpc-host", "127.0.0.1", "--grpc-port", fmt.Sprint(port()),
		"--metrics-port", fmt.Sprint(port()), "--ct-log-url", "", "--legacy-unix-domain-socket", filepath.Join(dir, "fulcio-legacy.sock")); err != nil {
		t.Fatal(err)
	}
	tsa := fmt.Sprintf("http://127.0.0.1:%d", port())
	if _, err := e.StartProcess("timestamp-server", filepath.Join(e.Bin, "timestamp-server"), "serve", "--host", "127.0.0.1",
		"--port", strings.TrimPrefix(tsa, "http://127.0.0.1:"), "--timestamp-signer", "memory"); err != nil {
		t.Fatal(err)
	}
	// Rekor v2: its checkpoints name the log by host, as clients find it.
	rekorKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rekorKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&rekorKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rekor.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rekor.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		t.Fatal(err)
	}
	rekor := fmt.Sprintf("http://127.0.0.1:%d", port())
	if _, err := e.StartProcess("rekor", filepath.Join(e.Bin, "rekor-server-posix"), "serve", "--storage-dir", filepath.Join(dir, "rekor"),
		"--signer-filepath", filepath.Join(dir, "rekor.key"), "--hostname", "127.0.0.1", "--http-address", "127.0.0.1",
		"--http-port", strings.TrimPrefix(rekor, "http://127.0.0.1:"), "--grpc-address", "127.0.0.1", "--grpc-port", fmt.Sprint(port()),
		"--http-metrics-port", fmt.Sprint(port()), "--checkpoint-interval", "1s"); err != nil {
		t.Fatal(err)
	}
	fetch := func(url, file string) {
		t.Helper()
		if err := harness.WaitFor(30*time.Second, func() error {
			r, err := http.Get(url)
			if err != nil {
				return err
			}
			defer r.Body.Close()
			if r.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", url, r.Status)
			}
			f, err := os.Create(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.ReadFrom(r.Body)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	fetch(fulcio+"/api/v1/rootCert", filepath.Join(dir, "fulcio.pem"))
	fetch(tsa+"/api/v1/timestamp/certchain", filepath.Join(dir, "tsa.pem"))
	fetch(rekor+"/healthz", filepath.Join(dir, "rekor-health"))
	root := filepath.Join(dir, "trusted_root.json")
	if out, err := e.Cosign(dir, "trusted-root", "create", "--fulcio", "url="+fulcio+",certificate-chain=fulcio.pem",
		"--tsa", "url="+tsa+"/api/v1/timestamp,certificate-chain=tsa.pem",
		"--rekor", "url="+rekor+",public-key=rekor.pub,start-time=2020-01-01T00:00:00Z", "--out", root); err != nil {
		t.Fatalf("cosign trusted-root create: %v: %s", err, out)
	}
	signing := filepath.Join(dir, "signing_config.json")
	service := func(url string, version int) string {
		return fmt.Sprintf(`[{"url": %q, "majorApiVersion": %d, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "test"}]`, url, version)
	}
	if err := os.WriteFile(signing, []byte(fmt.Sprintf(`{"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
  "caUrls": %s, "oidcUrls": %s, "rekorTlogUrls": %s, "tsaUrls": %s,
  "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"}}`, service(fulcio, 1), service(oidc.URL+"/auth", 1), service(rekor, 2), service(tsa+"/api/v1/timestamp", 1))), 0o644); err != nil {
		t.Fatal(err)
	}

	// signgate: the trust root cosign made, the release identity, a policy.
	cfg := harness.DefaultSigngateConfig(e.Env)
	cfg = strings.Replace(cfg, "# Both registries: distribution 2.8", fmt.Sprintf(`[[policy]]
name = "cli-keyless-logged"
scopes = ["%[1]s/clikeyless/bundle/*"]
  [policy.cosign]
  identities = ["releaser"]
  tlog = "require"
  [[policy.attestation]]
  type = "slsaprovenance1"
  identities = ["releaser"]
  tlog = "require"
  builders = ["https://ci.example.com/builder"]

[[policy]]
name = "cli-keyless-timestamped"
scopes = ["%[1]s/clikeyless/legacy/*"]
  [policy.cosign]
  identities = ["releaser"]
  tlog = "off"

# Both registries: distribution 2.8`, e.Registry), 1)
	cfg += fmt.Sprintf("\n[trust_roots.cli]\npath = %q\n\n[identities.releaser]\ntrust_root = \"cli\"\nissuer = %q\nsubject = \"release@example.com\"\n", root, oidc.URL)
	if err := e.RestartSigngate(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.RestartSigngate(harness.DefaultSigngateConfig(e.Env)); err != nil {
			t.Error(err)
		}
	})

	provenanceFile := filepath.Join(dir, "provenance.json")
	if err := os.WriteFile(provenanceFile, []byte(`{"buildDefinition":{"buildType":"https://ci.example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://ci.example.com/builder"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	pod, podCfg := e.pod("default")
	for _, bundle := range []bool{true, false} {
		for _, who := range []string{"release@example.com", "intruder@example.com"} {
			form := map[bool]string{true: "bundle", false: "legacy"}[bundle]
			ref := fmt.Sprintf("%s/clikeyless/%s/%s:v1", e.Registry, form, strings.Split(who, "@")[0])
			d, err := harness.PushBusybox(ref, "sleep", "3600")
			if err != nil {
				t.Fatal(err)
			}
			token, err := oidc.Token(who)
			if err != nil {
				t.Fatal(err)
			}
			// The bundle format takes the services from a signing config;
			// the .sig tag form only from cosign's older, deprecated flags.
			args := []string{"sign", "--yes", "--trusted-root", root, "--identity-token", token}
			if bundle {
				args = append(args, "--signing-config", signing)
			} else {
				args = append(args, "--use-signing-config=false", "--new-bundle-format=false", "--tlog-upload=false",
					"--fulcio-url", fulcio, "--timestamp-server-url", tsa+"/api/v1/timestamp")
			}
			if out, err := e.Cosign(dir, append(args, d.String())...); err != nil {
				t.Fatalf("cosign sign as %s: %v: %s", who, err, out)
			}
			// And an SLSA provenance, attested keyless the same way. Only
			// the bundle's is required: in the .att tag form, cosign v3.1.3
			// timestamps the DSSE signature but checks the timestamp against
			// the envelope, so its own verify-attestation refuses it ("hashed
			// messages don't match"), and signgate, checking as cosign does,
			// would too.
			args[0] = "attest"
			if out, err := e.Cosign(dir, append(args, "--type", "slsaprovenance1", "--predicate", provenanceFile, d.String())...); err != nil {
				t.Fatalf("cosign attest as %s: %v: %s", who, err, out)
			}
			if err := e.Pull(ref); err != nil {
				t.Fatal(err)
			}
			// signgate inspect lists what cosign stored, verified or not.
			cmd := exec.Command(filepath.Join(e.Bin, "signgate"), "inspect", "--config", filepath.Join(e.Dir, "signgate.toml"), "--output", "json", ref)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("signgate inspect %s: %v: %s", ref, err, out)
			}
			var listed struct {
				Image     string
				Artifacts []verify.Artifact
			}
			if err := json.Unmarshal(out, &listed); err != nil {
				t.Fatal(err)
			}
			if len(listed.Artifacts) != 2 || listed.Image != d.String() {
				t.Fatalf("signgate inspect %s: %s", ref, out)
			}
			kinds := map[string]bool{}
			for _, a := range listed.Artifacts {
				kinds[a.Kind] = true
				if a.Subject != who || a.Issuer != oidc.URL || !a.Timestamped || (a.LogIndex != nil) != bundle {
					t.Fatalf("signgate inspect %s: %+v", ref, a)
				}
				if a.Kind == verify.KindCosignAttestation && a.PredicateType != verify.PredicateSLSA1 {
					t.Fatalf("signgate inspect %s: %+v", ref, a)
				}
			}
			if !kinds[verify.KindCosignSignature] || !kinds[verify.KindCosignAttestation] {
				t.Fatalf("signgate inspect %s: want a signature and an attestation: %s", ref, out)
			}
			_, err = e.Create(pod, podCfg, ref)
			switch who {
			case "release@example.com":
				if err != nil {
					t.Fatalf("new-bundle-format=%v: the release identity's image was refused: %v", bundle, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), "signed by intruder@example.com") || !strings.Contains(err.Error(), "release@example.com") ||
					(bundle && !strings.Contains(err.Error(), "slsaprovenance1: requires any of releaser")) {
					t.Fatalf("new-bundle-format=%v: another identity's image: %v", bundle, err)
				}
			}
		}
	}
}
