package sigtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/types"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/sign"
	"google.golang.org/protobuf/encoding/protojson"
)

// Statement is an in-toto statement (v1) about subject, as `cosign attest`
// makes: the digest as subject, the predicate as given.
func Statement(subject name.Digest, predicateType string, predicate any) ([]byte, error) {
	alg, hex, ok := strings.Cut(subject.DigestStr(), ":")
	if !ok {
		return nil, fmt.Errorf("bad digest %s", subject)
	}
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": subject.Context().Name(), "digest": map[string]string{alg: hex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
}

// AttestLegacy stores statement on target the way `cosign attest
// --new-bundle-format=false --tlog-upload=false` does: a DSSE envelope,
// signed with the key, in a layer of the sha256-<hex>.att tag.
func (s *Signer) AttestLegacy(target name.Digest, statement []byte, opts ...remote.Option) error {
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(types.IntotoPayloadType), types.IntotoPayloadType, len(statement), statement)
	raw, _, err := s.kp.SignData(context.Background(), []byte(pae))
	if err != nil {
		return err
	}
	env, err := json.Marshal(map[string]any{
		"payloadType": types.IntotoPayloadType,
		"payload":     base64.StdEncoding.EncodeToString(statement),
		"signatures":  []any{map[string]string{"keyid": "", "sig": base64.StdEncoding.EncodeToString(raw)}},
	})
	if err != nil {
		return err
	}
	att, err := static.NewAttestation(env)
	if err != nil {
		return err
	}
	return attachAs(target, att, true, opts...)
}

// AttestBundle stores statement on target the way `cosign attest` (v3)
// does: a Sigstore bundle holding the DSSE envelope, signed with the key,
// as an OCI 1.1 referrer annotated with the predicate type.
func (s *Signer) AttestBundle(target name.Digest, statement []byte, predicateType string, opts ...remote.Option) error {
	pb, err := sign.Bundle(&sign.DSSEData{Data: statement, PayloadType: types.IntotoPayloadType}, s.kp, sign.BundleOptions{})
	if err != nil {
		return err
	}
	if _, err := sgbundle.NewBundle(pb); err != nil {
		return fmt.Errorf("bundle does not validate: %w", err)
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(target, b, predicateType, ociremote.WithRemoteOptions(opts...))
}
