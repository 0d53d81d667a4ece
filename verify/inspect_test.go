package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// Inspect lists everything an image carries, whatever any policy makes of
// it: key and keyless signatures in both forms, an attestation, a notation
// signature.
func TestInspectListsEverySignatureAndAttestation(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	img := k.image("inspected")
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(k.signers["k1"].SignLegacy(img))
	check(k.signers["k1"].SignBundle(img))
	check(k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}))
	check(k.sigstore.SignKeylessLegacy(img, release, ghIssuer, sigtest.KeylessOptions{}))
	check(k.signers["k1"].SignBundleStatement(img, img, "https://slsa.dev/provenance/v1"))
	pki, err := sigtest.NewPKI("inspect")
	check(err)
	reg, err := registry.New(registry.Config{})
	check(err)
	repo, err := reg.Repository(img.Context())
	check(err)
	check(pki.SignNotation(context.Background(), repo, img, sigtest.JWS))

	arts, err := verify.Inspect(context.Background(), reg, img)
	check(err)
	count := map[string]int{}
	for _, a := range arts {
		switch {
		case a.Kind == verify.KindCosignSignature && a.Key && a.Problem == "":
			count["key signature"]++
		case a.Kind == verify.KindCosignSignature && a.Subject == release && a.Issuer == ghIssuer && a.LogIndex != nil && a.Timestamped:
			count["keyless signature"]++
		case a.Kind == verify.KindCosignAttestation && a.PredicateType == "https://slsa.dev/provenance/v1" && a.Key:
			count["attestation"]++
		case a.Kind == verify.KindNotationSignature:
			count["notation"]++
		default:
			t.Errorf("unexpected: %+v", a)
		}
	}
	if count["key signature"] != 2 || count["keyless signature"] != 2 || count["attestation"] != 1 || count["notation"] != 1 {
		t.Fatalf("listed %v, want 2 key signatures, 2 keyless, 1 attestation, 1 notation signature:\n%+v", count, arts)
	}
}

// An attestation whose statement does not parse was listed with no
// predicate type and no problem; inspect now says why.
func TestInspectNamesAMalformedStatement(t *testing.T) {
	k := newKeyless(t)
	img := k.image("inspected-malformed")
	if err := k.signers["k1"].AttestLegacy(img, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	arts, err := verify.Inspect(context.Background(), reg, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || !strings.Contains(arts[0].Problem, "malformed in-toto statement") {
		t.Fatalf("want the attestation listed with its problem: %+v", arts)
	}
}
