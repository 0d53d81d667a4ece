package sigtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"oras.land/oras-go/v2/registry/remote"
)

// Envelope types notation signs with.
const (
	JWS  = "application/jose+json"
	COSE = "application/cose"
)

// PKI is a root CA and a code-signing certificate it issued, as an
// enterprise PKI (or `notation cert generate-test`) would make.
type PKI struct {
	Root    *x509.Certificate
	Leaf    *x509.Certificate
	leafKey crypto.Signer
	rootKey crypto.Signer
}

// NewPKI makes a root CA and a leaf whose subject is "CN=<cn>,O=signgate test".
func NewPKI(cn string) (*PKI, error) { return newPKI(cn, "", 12*time.Hour) }

// NewShortLivedPKI is NewPKI with a leaf that expires after lifetime.
func NewShortLivedPKI(cn string, lifetime time.Duration) (*PKI, error) {
	return newPKI(cn, "", lifetime)
}

// NewPKIWithCRL is NewPKI with the leaf naming crlURL as its CRL
// distribution point, so verifiers check its revocation there.
func NewPKIWithCRL(cn, crlURL string) (*PKI, error) { return newPKI(cn, crlURL, 12*time.Hour) }

func newPKI(cn, crlURL string, lifetime time.Duration) (*PKI, error) {
	now := time.Now()
	root, rootKey, err := newRootCA(cn+" root", 1, now.Add(-time.Hour), now.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	p := &PKI{Root: root, rootKey: rootKey}
	if err := p.issue(cn, crlURL, 2, now.Add(-time.Hour), now.Add(lifetime)); err != nil {
		return nil, err
	}
	return p, nil
}

// issue makes p's leaf: a code-signing certificate from p's root, valid
// from notBefore to notAfter.
func (p *PKI) issue(cn, crlURL string, serial int64, notBefore, notAfter time.Time) error {
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"signgate test"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	if crlURL != "" {
		leafTmpl.CRLDistributionPoints = []string{crlURL}
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, p.Root, &leafKey.PublicKey, p.rootKey)
	if err != nil {
		return err
	}
	p.Leaf, _ = x509.ParseCertificate(leafDER)
	p.leafKey = leafKey
	return nil
}

// CRL is the root's certificate revocation list (DER), listing the leaf when
// revoked is true.
func (p *PKI) CRL(revoked bool) ([]byte, error) {
	now := time.Now()
	rl := &x509.RevocationList{Number: big.NewInt(now.UnixNano()), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
	if revoked {
		rl.RevokedCertificateEntries = []x509.RevocationListEntry{{SerialNumber: p.Leaf.SerialNumber, RevocationTime: now.Add(-time.Minute)}}
	}
	return x509.CreateRevocationList(rand.Reader, rl, p.Root, p.rootKey)
}

// RootPEM is the root certificate, for signgate's [certs].
func (p *PKI) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw}))
}

// SignNotation signs img with notation-go's own signer, storing the signature
// the way the notation CLI does (an OCI referrer, or the referrers tag).
func (p *PKI) SignNotation(ctx context.Context, repo *remote.Repository, img name.Digest, envelope string) error {
	s, err := signer.NewGenericSigner(p.leafKey, []*x509.Certificate{p.Leaf, p.Root})
	if err != nil {
		return err
	}
	_, err = notation.Sign(ctx, s, notationregistry.NewRepository(repo), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: envelope},
		ArtifactReference: img.String(),
	})
	return err
}

// ExpiredRootPEM is a CA certificate that expired yesterday.
func ExpiredRootPEM() string {
	root, _, err := newRootCA("expired root", 3, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}))
}

// newRootCA makes a self-signed CA certificate and its key.
func newRootCA(cn string, serial int64, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"signgate test"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}
