package main

import (
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/integration/harness"
	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// attestationRows measures a policy with a signature and an SLSA
// provenance attestation under two conditions (a trusted builder, and a
// CEL expression over the workflow), both by key k1 as Sigstore bundles:
// cold, beside the signature alone, and warm.
func attestationRows(e *harness.Env, hostsDir string) []row {
	const builder = "https://github.com/org/app/.github/workflows/build.yml@refs/heads/main"
	k1, err := keystore.ParsePublicKeyPEM("k1", "inline", []byte(e.Signers["k1"].PublicPEM()))
	check(err)
	store, err := keystore.NewStore(k1)
	check(err)
	scope, err := verify.ParseScope(e.Upstream + "/**")
	check(err)
	cond, err := verify.CompileCondition(`predicate.buildDefinition.externalParameters.workflow.ref == "refs/heads/main"`)
	check(err)
	signature := verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1}
	snap := func(id string, atts ...*verify.AttestationRequirement) *verify.Snapshot {
		sig := signature
		return &verify.Snapshot{ID: id, Keys: store, Policies: verify.Policies{{
			Name: "bench", Scopes: []verify.Scope{scope}, Mode: verify.Enforce, Cosign: &sig, Attestations: atts,
		}}}
	}
	provenance := &verify.AttestationRequirement{Name: "provenance", PredicateType: verify.PredicateSLSA1, Signers: signature,
		Conditions: []*verify.Condition{verify.BuildersCondition([]string{builder}), cond}}

	imgs := make([]name.Digest, imagesPerFormat)
	for i := range imgs {
		d, err := harness.PushBusybox(fmt.Sprintf("%s/bench/attested%d:v1", e.Upstream, i), "sleep", "1")
		check(err)
		check(e.Signers["k1"].SignBundle(d))
		st, err := sigtest.Statement(d, verify.PredicateSLSA1, map[string]any{
			"buildDefinition": map[string]any{"externalParameters": map[string]any{"workflow": map[string]any{"ref": "refs/heads/main", "repository": "https://github.com/org/app"}}},
			"runDetails":      map[string]any{"builder": map[string]any{"id": builder}, "metadata": map[string]any{"finishedOn": time.Now().UTC().Format(time.RFC3339)}},
		})
		check(err)
		check(e.Signers["k1"].AttestBundle(d, st, verify.PredicateSLSA1))
		imgs[i] = d
	}
	sigCold, _, _ := coldAndWarm(snap("sig-only"), hostsDir, imgs, "signature only")
	cold, reg, warm := coldAndWarm(snap("attested", provenance), hostsDir, imgs, "attested")
	c := summarize("verify cold, signature + SLSA provenance with 2 conditions", cold, "")
	s := summarize("verify cold, the same signature alone", sigCold, "")
	c.note = fmt.Sprintf("the attestation adds %s", (c.median - s.median).Round(10*time.Microsecond))
	return []row{s, c, registryRow(cold, reg), summarize("decide warm, signature + provenance (cached verdict)", warm, "target <= 50µs")}
}
