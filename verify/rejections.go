package verify

import (
	"errors"
	"fmt"

	"github.com/sigstore/cosign/v3/pkg/oci"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// Why a signature did not verify with a key or identity. A denial's text
// is err.Error(); the values let code decide without reading it.
var (
	// errNoLogEntry: a signature the policy requires a log entry of
	// carries none.
	errNoLogEntry       = errors.New(`carries no transparency log entry, and the policy requires one (tlog = "require")`)
	errKeyNotCert       = errors.New("signed with a key, not a certificate")
	errKeyDoesNotVerify = errors.New("signature does not verify with this key")
)

// otherImageError: the signature is valid but signs another image (copied
// from it).
type otherImageError string

func (e otherImageError) Error() string { return string(e) }

// telling says whether a rejection says more than "does not verify", so a
// denial leads with it: a signature for another image, or one without the
// log entry the policy requires.
func telling(err error) bool {
	var other otherImageError
	return errors.As(err, &other) || errors.Is(err, errNoLogEntry)
}

// checkLegacyAnnotations reads the Rekor bundle and RFC 3161 timestamp
// annotations of a .sig or .att layer, and the log entry's kind, before
// anything verifies them: one that does not parse makes the layer
// malformed, never "absent".
func checkLegacyAnnotations(sig oci.Signature) error {
	rb, err := sig.Bundle()
	if err != nil {
		return fmt.Errorf("malformed Rekor bundle annotation: %w", err)
	}
	if rb != nil {
		if err := checkLegacyLogKind(rb.Payload.Body); err != nil {
			return err
		}
	}
	if _, err := sig.RFC3161Timestamp(); err != nil {
		return fmt.Errorf("malformed RFC 3161 timestamp annotation: %w", err)
	}
	return nil
}

// checkBundleParts reads what verifying a Sigstore bundle uses of it (its
// verification material, log entries and timestamps): one that does not
// parse makes the bundle malformed, never "absent".
func checkBundleParts(b *sgbundle.Bundle) error {
	if _, err := b.VerificationContent(); err != nil {
		return fmt.Errorf("malformed bundle: its verification material: %w", err)
	}
	if _, err := b.TlogEntries(); err != nil {
		return fmt.Errorf("malformed bundle: its log entries: %w", err)
	}
	if _, err := b.Timestamps(); err != nil {
		return fmt.Errorf("malformed bundle: its timestamps: %w", err)
	}
	return nil
}
