// Package sigtest makes real signed images for tests and benchmarks: random
// images pushed to a registry and signed the two ways cosign stores
// signatures, with the same payload formats and the same sigstore signing code
// cosign uses.
package sigtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	"github.com/sigstore/cosign/v3/pkg/oci/mutate"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
)

// Signer is a fresh ECDSA P-256 key, as `cosign generate-key-pair` makes.
type Signer struct {
	kp *sign.EphemeralKeypair
}

// NewSigner makes a key.
func NewSigner() (*Signer, error) {
	kp, err := sign.NewEphemeralKeypair(nil)
	if err != nil {
		return nil, err
	}
	return &Signer{kp: kp}, nil
}

// PublicPEM is the public key, for signgate's keystore.
func (s *Signer) PublicPEM() string {
	p, err := s.kp.GetPublicKeyPem()
	if err != nil {
		panic(err)
	}
	return p
}

// PushImage pushes a random single-platform image to ref and returns its digest.
func PushImage(ref string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	img, err := random.Image(256, 1)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.Write(r, img, opts...); err != nil {
		return name.Digest{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// PushIndex pushes a random multi-platform index to ref and returns its digest.
func PushIndex(ref string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, err
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return name.Digest{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	return r.Context().Digest(d.String()), nil
}

// SignLegacy signs img the way `cosign sign --new-bundle-format=false
// --tlog-upload=false` does: a simple-signing payload in a layer of the
// sha256-<hex>.sig tag.
func (s *Signer) SignLegacy(img name.Digest, opts ...remote.Option) error {
	return s.SignLegacyClaiming(img, img, opts...)
}

// SignLegacyClaiming stores, on target's .sig tag, a signature whose payload
// names claimed: a signature copied from another image when they differ.
func (s *Signer) SignLegacyClaiming(target, claimed name.Digest, opts ...remote.Option) error {
	return signLegacy(target, claimed, func(p []byte) ([]byte, error) {
		raw, _, err := s.kp.SignData(context.Background(), p)
		return raw, err
	}, opts...)
}

// SignLegacyWith signs img as SignLegacy does, with any sigstore signer: a
// KMS key through sigstore's KMS signers, as `cosign sign --key awskms://...`.
func SignLegacyWith(signer signature.Signer, img name.Digest, opts ...remote.Option) error {
	return signLegacy(img, img, func(p []byte) ([]byte, error) { return signer.SignMessage(bytes.NewReader(p)) }, opts...)
}

// signLegacy makes the simple-signing payload naming claimed, signs it, and
// stores it on target's .sig tag.
func signLegacy(target, claimed name.Digest, sign func([]byte) ([]byte, error), opts ...remote.Option) error {
	p, err := (&payload.Cosign{Image: claimed}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, err := sign(p)
	if err != nil {
		return err
	}
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw))
	if err != nil {
		return err
	}
	return attach(target, sig, opts...)
}

// SignLegacyAnnotated signs img as SignLegacy does, with extra layer
// annotations (a malformed Rekor bundle or timestamp, for the cases where
// a registry sends one).
func (s *Signer) SignLegacyAnnotated(img name.Digest, ann map[string]string, opts ...remote.Option) error {
	p, err := (&payload.Cosign{Image: img}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, _, err := s.kp.SignData(context.Background(), p)
	if err != nil {
		return err
	}
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw), static.WithAnnotations(ann))
	if err != nil {
		return err
	}
	return attach(img, sig, opts...)
}

// AttachRaw stores an arbitrary layer as a legacy signature (for malformed cases).
func AttachRaw(target name.Digest, payloadBytes []byte, b64sig string, opts ...remote.Option) error {
	sig, err := static.NewSignature(payloadBytes, b64sig)
	if err != nil {
		return err
	}
	return attach(target, sig, opts...)
}

func attach(target name.Digest, sig oci.Signature, opts ...remote.Option) error {
	return attachAs(target, sig, false, opts...)
}

// attachAs adds sig to target's .sig tag, or its .att tag as an attestation.
func attachAs(target name.Digest, sig oci.Signature, attestation bool, opts ...remote.Option) error {
	add, write := mutate.AttachSignatureToEntity, ociremote.WriteSignatures
	if attestation {
		add, write = mutate.AttachAttestationToEntity, ociremote.WriteAttestations
	}
	oo := []ociremote.Option{ociremote.WithRemoteOptions(opts...)}
	se, err := ociremote.SignedEntity(target, oo...)
	if err != nil {
		return err
	}
	se, err = add(se, sig)
	if err != nil {
		return err
	}
	return write(target.Repository, se, oo...)
}

// SignBundle signs img the way `cosign sign` (v3, new bundle format) does: a
// Sigstore bundle holding a DSSE envelope of an in-toto statement with cosign's
// sign predicate, stored as an OCI 1.1 referrer of img.
func (s *Signer) SignBundle(img name.Digest, opts ...remote.Option) error {
	return s.SignBundleStatement(img, img, types.CosignSignPredicateType, opts...)
}

// SignBundleStatement stores on target's referrers a bundle whose statement
// names subject and predicateType, for the cases where they are wrong.
func (s *Signer) SignBundleStatement(target, subject name.Digest, predicateType string, opts ...remote.Option) error {
	alg, hex, ok := strings.Cut(subject.DigestStr(), ":")
	if !ok {
		return fmt.Errorf("bad digest %s", subject)
	}
	stmt := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{%q:%q}}],"predicateType":%q,"predicate":{}}`, alg, hex, predicateType)
	pb, err := sign.Bundle(&sign.DSSEData{Data: []byte(stmt), PayloadType: "application/vnd.in-toto+json"}, s.kp, sign.BundleOptions{})
	if err != nil {
		return err
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		return err
	}
	if _, err := sgbundle.NewBundle(pb); err != nil {
		return fmt.Errorf("bundle does not validate: %w", err)
	}
	return ociremote.WriteAttestationNewBundleFormat(target, b, predicateType, ociremote.WithRemoteOptions(opts...))
}
