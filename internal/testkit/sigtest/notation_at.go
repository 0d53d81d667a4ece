package sigtest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
)

// ExpiredLeaf is p's root with a new leaf (same subject) that was valid
// from an hour before signedAt until expired: a signature it made at
// signedAt was made in time, and its certificate has expired since. Tests
// of expiry use it instead of waiting for a short-lived certificate to end
// (notation-go judges validity by the wall clock, which no test can move).
func (p *PKI) ExpiredLeaf(signedAt, expired time.Time) (*PKI, error) {
	q := &PKI{Root: p.Root, rootKey: p.rootKey}
	if err := q.issue(p.Leaf.Subject.CommonName, "", 3, signedAt.Add(-time.Hour), expired); err != nil {
		return nil, err
	}
	return q, nil
}

// SignNotationAt signs img as if at signedAt (the signing time notation
// records); with tsa, the signature is countersigned by tsa at signedAt.
func (p *PKI) SignNotationAt(ctx context.Context, repo *remote.Repository, img name.Digest, envelope string, signedAt time.Time, tsa *TSA) error {
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.Leaf, p.Root}, p.leafKey)
	if err != nil {
		return err
	}
	opts := notation.SignOptions{SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: envelope}, ArtifactReference: img.String()}
	if tsa != nil {
		tsa.StampAt(signedAt)
		if opts.Timestamper, opts.TSARootCAs, err = tsa.timestamper(); err != nil {
			return err
		}
	}
	_, err = notation.Sign(ctx, &signerAt{signer: ls, at: signedAt, scheme: signature.SigningSchemeX509}, notationregistry.NewRepository(repo), opts)
	return err
}

// signerAt is notation-go's generic signer with a signing time, a signing
// scheme and extended attributes of its own (notation-go's own signer
// always writes notary.x509).
type signerAt struct {
	signer signature.Signer
	at     time.Time
	scheme signature.SigningScheme
	attrs  []signature.Attribute
}

func (s *signerAt) Sign(ctx context.Context, desc ocispec.Descriptor, opts notation.SignerSignOptions) ([]byte, *signature.SignerInfo, error) {
	// The payload notation signs: the artifact's descriptor, sanitized.
	target := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: desc.Annotations}
	payload, err := json.Marshal(map[string]any{"targetArtifact": target})
	if err != nil {
		return nil, nil, err
	}
	env, err := signature.NewEnvelope(opts.SignatureMediaType)
	if err != nil {
		return nil, nil, err
	}
	req := (&signature.SignRequest{
		Payload:                  signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:                   s.signer,
		SigningTime:              s.at,
		SigningScheme:            s.scheme,
		SigningAgent:             "signgate-test",
		ExtendedSignedAttributes: s.attrs,
		Timestamper:              opts.Timestamper,
		TSARootCAs:               opts.TSARootCAs,
	}).WithContext(ctx)
	sig, err := env.Sign(req)
	if err != nil {
		return nil, nil, err
	}
	content, err := env.Verify()
	if err != nil {
		return nil, nil, err
	}
	return sig, &content.SignerInfo, nil
}

// NewShortLivedPKIAt is a PKI as a short-lived-certificate service makes
// them: a leaf issued at issued that lives for lifetime (days, say), under
// a root valid from before issued until tomorrow. Sign with SignNotationAt
// at a time within the leaf's life.
func NewShortLivedPKIAt(cn string, issued time.Time, lifetime time.Duration) (*PKI, error) {
	root, rootKey, err := newRootCA(cn+" root", 1, issued.Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	p := &PKI{Root: root, rootKey: rootKey}
	if err := p.issue(cn, "", 2, issued, issued.Add(lifetime)); err != nil {
		return nil, err
	}
	return p, nil
}
