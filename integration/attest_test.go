package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/signgate/signgate/integration/harness"
)

// Predicates as the tools that make them write them, for `cosign attest
// --predicate`.
func predicates(t *testing.T, dir, repo, severity string) map[string]string {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	files := map[string]string{
		"slsaprovenance1": fmt.Sprintf(`{"buildDefinition":{"buildType":"https://actions.github.io/buildtypes/workflow/v1","externalParameters":{"workflow":{"ref":"refs/heads/main","repository":%q,"path":".github/workflows/build.yml"}},"resolvedDependencies":[{"uri":"git+%s@refs/heads/main"}]},"runDetails":{"builder":{"id":"https://github.com/org/app/.github/workflows/build.yml@refs/heads/main"},"metadata":{"invocationId":"1","finishedOn":%q}}}`, repo, repo, now),
		"cyclonedx":       `{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"busybox","version":"1.36"}]}`,
		"spdxjson":        `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"app","dataLicense":"CC0-1.0","creationInfo":{"created":"` + now + `","creators":["Tool: syft"]},"packages":[]}`,
		"vuln":            fmt.Sprintf(`{"invocation":{"uri":"","event_id":"","builder.id":""},"scanner":{"uri":"pkg:github/aquasecurity/trivy@v0.50.0","version":"0.50.0","db":{"uri":"","version":""},"result":{"Results":[{"Target":"app","Vulnerabilities":[{"VulnerabilityID":"CVE-2026-1","Severity":%q}]}]}},"metadata":{"scanStartedOn":%q,"scanFinishedOn":%q}}`, severity, now, now),
		"custom":          "approved by release-manager\n",
	}
	out := map[string]string{}
	for typ, body := range files {
		p := filepath.Join(dir, typ+".json")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out[typ] = p
	}
	return out
}

func (e *env) attest(d name.Digest, bundle bool, typ, predicate string) {
	e.t.Helper()
	out, err := e.Cosign(e.CosignDir, "attest", "--key", "cosign.key", "--yes", "--use-signing-config=false", "--tlog-upload=false",
		fmt.Sprintf("--new-bundle-format=%v", bundle), "--type", typ, "--predicate", predicate, d.String())
	if err != nil {
		e.t.Fatalf("cosign attest --type %s: %v: %s", typ, err, out)
	}
}

func (e *env) signCLI(d name.Digest, bundle bool) {
	e.t.Helper()
	out, err := e.Cosign(e.CosignDir, "sign", "--key", "cosign.key", "--yes", "--use-signing-config=false", "--tlog-upload=false",
		fmt.Sprintf("--new-bundle-format=%v", bundle), d.String())
	if err != nil {
		e.t.Fatalf("cosign sign: %v: %s", err, out)
	}
}

// The real cosign CLI attests, in both formats: bundles through the
// referrers API (olareg) and through the fallback tag (distribution 2.8),
// and the .att tag. An image with a signature and every attestation the
// policy requires runs and carries what verified it; a failed condition, a
// missing attestation and an attestation of another image each deny.
func TestRealCosignAttestations(t *testing.T) {
	e := need(t)
	podID, podCfg := e.pod("default")
	for _, c := range []struct {
		name   string
		host   string
		bundle bool
	}{{"referrers-api/bundle", e.Referrers, true}, {"distribution/bundle", e.Registry, true}, {"distribution/att-tag", e.Registry, false}} {
		t.Run(c.name, func(t *testing.T) {
			e := &env{Env: e.Env, t: t}
			dir := t.TempDir()
			push := func(tag string) (string, name.Digest) {
				ref := fmt.Sprintf("%s/attested/app-%v:%s", c.host, c.bundle, tag)
				d, err := harness.PushBusybox(ref, "sleep", "3600")
				if err != nil {
					t.Fatal(err)
				}
				return ref, d
			}
			// Pulled once signed: a pull is verified ahead, and its denial
			// would be cached for a second.
			create := func(ref string) (string, error) {
				if err := e.Pull(ref); err != nil {
					t.Fatal(err)
				}
				return e.Create(podID, podCfg, ref)
			}

			ref, good := push("good")
			e.signCLI(good, c.bundle)
			for typ, p := range predicates(t, dir, "https://github.com/org/app", "HIGH") {
				e.attest(good, c.bundle, typ, p)
			}
			id, err := create(ref)
			mustAllow(t, id, err)
			// What verified the container, in the decision log under its ID.
			line := decisionFor(t, e.Env, id)
			for _, want := range []string{"decision=allow", "policy=attested", "digest=" + good.DigestStr(),
				`verified_by="cosign: cli; attestation provenance: cli; attestation cyclonedx: cli; attestation spdx: cli; attestation scan: cli; attestation review: cli"`} {
				if !strings.Contains(line, want) {
					t.Fatalf("the decision for container %s lacks %s: %s", id, want, line)
				}
			}
			if c.name == "distribution/bundle" {
				return // the negative cases need one registry each
			}

			// Built from a fork, with a critical finding: both conditions
			// are named.
			ref, fork := push("fork")
			e.signCLI(fork, c.bundle)
			for typ, p := range predicates(t, dir, "https://github.com/evil/app", "CRITICAL") {
				e.attest(fork, c.bundle, typ, p)
			}
			_, err = create(ref)
			mustDeny(t, err, `policy "attested"`, `provenance: requires any of cli`, `built from "https://github.com/evil/app"`,
				`r.Vulnerabilities.all(v, v.Severity != "CRITICAL")): false`)

			// No scan at all.
			ref, noscan := push("noscan")
			e.signCLI(noscan, c.bundle)
			for typ, p := range predicates(t, dir, "https://github.com/org/app", "LOW") {
				if typ != "vuln" {
					e.attest(noscan, c.bundle, typ, p)
				}
			}
			_, err = create(ref)
			mustDeny(t, err, "scan: no attestation of type https://cosign.sigstore.dev/attestation/vuln/v1 found")

			// The good image's attestations, copied onto another image.
			ref, replay := push("replay")
			e.signCLI(replay, c.bundle)
			replayAttestations(t, good, replay, c.bundle)
			_, err = create(ref)
			mustDeny(t, err, "attests another image: no subject names "+replay.DigestStr())
		})
	}
}

// replayAttestations copies from's attestations onto to: the .att tag's
// manifest under to's tag, or each bundle referrer with its subject
// rewritten to name to. Their statements still name from.
func replayAttestations(t *testing.T, from, to name.Digest, bundle bool) {
	t.Helper()
	tagOf := func(d name.Digest, suffix string) name.Tag {
		return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + suffix)
	}
	if !bundle {
		desc, err := remote.Get(tagOf(from, ".att"))
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Put(tagOf(to, ".att"), desc); err != nil {
			t.Fatal(err)
		}
		return
	}
	idx, err := remote.Referrers(from)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	toDesc, err := remote.Head(to)
	if err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, r := range m.Manifests {
		desc, err := remote.Get(from.Context().Digest(r.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		var man map[string]any
		if err := json.Unmarshal(desc.Manifest, &man); err != nil {
			t.Fatal(err)
		}
		man["subject"] = v1.Descriptor{MediaType: toDesc.MediaType, Digest: toDesc.Digest, Size: toDesc.Size}
		raw, err := json.Marshal(man)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if err := remote.Put(to.Context().Digest("sha256:"+hex.EncodeToString(sum[:])), rawManifest{raw: raw, mt: types.OCIManifestSchema1}); err != nil {
			t.Fatal(err)
		}
		copied++
	}
	if copied == 0 {
		t.Fatal("no referrers to copy")
	}
}

type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }
