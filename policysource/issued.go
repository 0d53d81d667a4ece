package policysource

import (
	"time"

	"github.com/signgate/signgate/verify"
)

// IssuedAt is when the artifact v verified was signed, by a time its
// signers could not choose: the earliest transparency-log integrated time
// or RFC 3161 timestamp of the cosign signatures that verified it. Zero
// when none carries one (a key signature without tlog_root, notation):
// then max_validity is measured from the node's clock.
func IssuedAt(v *verify.Verdict) time.Time {
	var at time.Time
	if v == nil || v.Cosign == nil {
		return at
	}
	for _, s := range v.Cosign.Signatures {
		if len(s.VerifiedBy) == 0 || s.SignedAt == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, s.SignedAt)
		if err == nil && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	return at
}
