package sigtest

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest/authority"
)

// SignX509NamingPlugin: an ordinary notary.x509
// signature whose signer names plugin and claims profileVersion.
func (p *PKI) SignX509NamingPlugin(ctx context.Context, repo *remote.Repository, img name.Digest, plugin, profileVersion string) error {
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.Leaf, p.Root}, p.leafKey)
	if err != nil {
		return err
	}
	s := &signerAt{signer: ls, at: time.Now().Truncate(time.Second), scheme: signature.SigningSchemeX509, attrs: []signature.Attribute{
		{Key: "io.cncf.notary.verificationPlugin", Critical: true, Value: plugin},
		{Key: authority.ProfileAttr, Critical: true, Value: profileVersion},
	}}
	opts := notation.SignOptions{SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: JWS}, ArtifactReference: img.String()}
	_, err = notation.Sign(ctx, s, notationregistry.NewRepository(repo), opts)
	return err
}

// SignStampedAt: signs at signedAt, countersigned by
// tsa at stampAt.
func (p *PKI) SignStampedAt(ctx context.Context, repo *remote.Repository, img name.Digest, signedAt, stampAt time.Time, tsa *TSA) error {
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.Leaf, p.Root}, p.leafKey)
	if err != nil {
		return err
	}
	opts := notation.SignOptions{SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: JWS}, ArtifactReference: img.String()}
	tsa.StampAt(stampAt)
	if opts.Timestamper, opts.TSARootCAs, err = tsa.timestamper(); err != nil {
		return err
	}
	_, err = notation.Sign(ctx, &signerAt{signer: ls, at: signedAt, scheme: signature.SigningSchemeX509}, notationregistry.NewRepository(repo), opts)
	return err
}
