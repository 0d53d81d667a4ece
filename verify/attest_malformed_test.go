package verify_test

import (
	"testing"

	"github.com/signgate/signgate/verify"
)

// An attestation whose statement does not parse was skipped as if absent:
// the denial said "no attestation found" and named nothing. It now names
// the attestation that could not be read.
func TestMalformedAttestationIsNamed(t *testing.T) {
	for _, bundle := range []bool{false, true} {
		format := map[bool]string{false: "att tag", true: "bundle"}[bundle]
		t.Run(format, func(t *testing.T) {
			e := newEnv(t, true, 2)
			eng := e.attestEngine(t, true, attestation(t, "provenance", "slsaprovenance1", []string{"k2"}))
			img := e.image("malformed")
			if err := e.signers["k1"].SignLegacy(img); err != nil {
				t.Fatal(err)
			}
			var err error
			if bundle {
				err = e.signers["k2"].AttestBundle(img, []byte("{not json"), verify.PredicateSLSA1)
			} else {
				err = e.signers["k2"].AttestLegacy(img, []byte("{not json"))
			}
			if err != nil {
				t.Fatal(err)
			}
			v := decide(t, eng, img)
			want(t, v, false, "1 attestation(s) could not be read")
			want(t, v, false, "malformed in-toto statement")
			if v.Cause != verify.CauseNoAttestation {
				t.Fatalf("cause %s", v.Cause)
			}
		})
	}
}
