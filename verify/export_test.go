package verify

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// VerifyKeylessBundle exposes the keyless check of one bundle, for real
// bundles that sign something other than an image.
func VerifyKeylessBundle(s *Signer, b *sgbundle.Bundle, h v1.Hash, mode Tlog) string {
	if _, err := s.verifyBundle(b, h, mode); err != nil {
		return err.Error()
	}
	return ""
}

// DistinctSigners exposes how thresholds count key material.
var DistinctSigners = distinctSigners
