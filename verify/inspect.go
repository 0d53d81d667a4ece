package verify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
)

// Artifact kinds, as `signgate inspect` names them.
const (
	KindCosignSignature   = "cosign signature"
	KindCosignAttestation = "cosign attestation"
	KindNotationSignature = "notation signature"
	KindOther             = "other artifact"
)

const notationArtifactType = "application/vnd.cncf.notary.signature"

// Artifact is one signature or attestation an image carries, whatever a
// policy makes of it: what `signgate inspect` lists. Nothing here is
// verified; it says what the registry holds.
type Artifact struct {
	Kind          string `json:"kind"`
	Location      string `json:"location"` // the tag and layer, or the referrer's digest
	ArtifactType  string `json:"artifact_type,omitempty"`
	PredicateType string `json:"predicate_type,omitempty"` // attestations
	Subject       string `json:"subject,omitempty"`        // a keyless certificate's identity
	Issuer        string `json:"issuer,omitempty"`         // and its OIDC issuer
	Key           bool   `json:"key,omitempty"`            // signed with a key, not a certificate
	LogIndex      *int64 `json:"log_index,omitempty"`      // a Rekor entry it carries
	Timestamped   bool   `json:"timestamped,omitempty"`    // it carries an RFC 3161 timestamp
	Problem       string `json:"problem,omitempty"`        // unreadable
}

// Inspect lists every cosign signature and attestation (the .sig and .att
// tags, and Sigstore bundles among the referrers) and every other referrer
// (notation signatures among them) of img.
func Inspect(ctx context.Context, reg RemoteOptions, img name.Digest) ([]Artifact, error) {
	ropts, err := reg.Options(ctx, img.Context())
	if err != nil {
		return nil, err
	}
	opts := []ociremote.Option{ociremote.WithRemoteOptions(ropts...)}
	var out []Artifact
	for _, tag := range []struct {
		kind string
		tag  func(name.Reference, ...ociremote.Option) (name.Tag, error)
	}{{KindCosignSignature, ociremote.SignatureTag}, {KindCosignAttestation, ociremote.AttestationTag}} {
		t, err := tag.tag(img, opts...)
		if err != nil {
			return nil, err
		}
		sigs, err := ociremote.Signatures(t, opts...)
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", t, img, err)
		}
		list, err := sigs.Get()
		if err != nil {
			return nil, fmt.Errorf("reading %s of %s: %w", t, img, err)
		}
		for i, s := range list {
			out = append(out, legacyArtifact(tag.kind, fmt.Sprintf("%s layer %d", t.TagStr(), i), s))
		}
	}
	idx, err := ociremote.Referrers(img, "", opts...)
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", img, err)
	}
	for _, desc := range idx.Manifests {
		a := Artifact{Kind: KindOther, Location: "referrer " + desc.Digest.String(), ArtifactType: desc.ArtifactType}
		switch {
		case desc.ArtifactType == notationArtifactType:
			a.Kind = KindNotationSignature
		case strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix) || desc.ArtifactType == "" || desc.ArtifactType == emptyConfigType:
			b, err := fetchBundle(img.Context().Digest(desc.Digest.String()), append(ropts[:len(ropts):len(ropts)], remote.WithContext(ctx)))
			if err != nil {
				if !strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix) {
					break // some other artifact with an empty config
				}
				a.Kind, a.Problem = KindCosignSignature, "unreadable bundle: "+Excerpt(err)
				break
			}
			bundleArtifact(&a, b)
		}
		out = append(out, a)
	}
	return out, nil
}

func legacyArtifact(kind, location string, s oci.Signature) Artifact {
	a := Artifact{Kind: kind, Location: location, Key: true}
	if cert, err := s.Cert(); err != nil {
		a.problem(fmt.Errorf("malformed certificate annotation: %w", err))
	} else if cert != nil {
		a.Key = false
		if sum, err := certSummary(cert); err != nil {
			a.problem(fmt.Errorf("the certificate's identity cannot be read: %w", err))
		} else {
			a.Subject, a.Issuer = sum.SubjectAlternativeName, sum.Issuer
		}
	}
	if rb, err := s.Bundle(); err != nil {
		a.problem(fmt.Errorf("malformed Rekor bundle annotation: %w", err))
	} else if rb != nil {
		if err := checkLegacyLogKind(rb.Payload.Body); err != nil {
			a.problem(err)
		} else {
			idx := rb.Payload.LogIndex
			a.LogIndex = &idx
		}
	}
	if ts, err := s.RFC3161Timestamp(); err != nil {
		a.problem(fmt.Errorf("malformed RFC 3161 timestamp annotation: %w", err))
	} else if ts != nil {
		a.Timestamped = true
	}
	if kind == KindCosignAttestation {
		// The layer is a DSSE envelope; its statement names the predicate.
		pt, err := envelopePredicateType(s)
		if err != nil {
			a.problem(err)
		}
		a.PredicateType = pt
	}
	return a
}

// envelopePredicateType reads the predicate type of a .att layer's DSSE
// envelope.
func envelopePredicateType(s oci.Signature) (string, error) {
	p, err := s.Payload()
	if err != nil {
		return "", fmt.Errorf("unreadable payload: %w", err)
	}
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(p, &env); err != nil {
		return "", fmt.Errorf("malformed DSSE envelope: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", fmt.Errorf("malformed DSSE envelope: the payload is not base64: %w", err)
	}
	return predicateType(raw)
}

// problem records the first thing about the artifact that could not be
// read.
func (a *Artifact) problem(err error) {
	if a.Problem == "" {
		a.Problem = err.Error()
	}
}

func bundleArtifact(a *Artifact, b *sgbundle.Bundle) {
	a.Kind, a.Key = KindCosignSignature, true
	if vc, err := b.VerificationContent(); err != nil {
		a.problem(fmt.Errorf("malformed bundle: its verification material: %w", err))
	} else if vc.Certificate() != nil {
		a.Key = false
		if sum, err := certSummary(vc.Certificate()); err != nil {
			a.problem(fmt.Errorf("the certificate's identity cannot be read: %w", err))
		} else {
			a.Subject, a.Issuer = sum.SubjectAlternativeName, sum.Issuer
		}
	}
	if entries, err := b.TlogEntries(); err != nil {
		a.problem(fmt.Errorf("malformed bundle: its log entries: %w", err))
	} else if len(entries) > 0 {
		idx := entries[0].LogIndex()
		a.LogIndex = &idx
	}
	if ts, err := b.Timestamps(); err != nil {
		a.problem(fmt.Errorf("malformed bundle: its timestamps: %w", err))
	} else if len(ts) > 0 {
		a.Timestamped = true
	}
	if env, ok := b.Content.(*protobundle.Bundle_DsseEnvelope); ok && env.DsseEnvelope != nil {
		pt, err := predicateType(env.DsseEnvelope.Payload)
		if err != nil {
			a.problem(err)
		}
		if pt != types.CosignSignPredicateType {
			a.Kind, a.PredicateType = KindCosignAttestation, pt
		}
	}
}

func predicateType(statement []byte) (string, error) {
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		return "", fmt.Errorf("malformed in-toto statement: %w", err)
	}
	return st.PredicateType, nil
}
