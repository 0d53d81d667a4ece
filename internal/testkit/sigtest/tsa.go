package sigtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/digitorus/timestamp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/tspclient-go"
	"oras.land/oras-go/v2/registry/remote"
)

// TSA is an RFC 3161 timestamping authority on loopback, with its own root.
type TSA struct {
	at   atomic.Pointer[time.Time] // the time stamped, when set (StampAt)
	Root *x509.Certificate
	URL  string
	srv  *httptest.Server
}

// NewTSA starts a timestamping authority; Close stops it.
func NewTSA() (*TSA, error) {
	// Valid from a month back, so it can stamp signatures made last week
	// (StampAt) by certificates that lived for days.
	now := time.Now()
	root, rootKey, err := newRootCA("signgate test TSA root", 10, now.Add(-30*24*time.Hour), now.Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// RFC 3161: the TSA's extended key usage is time stamping only, critical.
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "signgate test TSA", Organization: []string{"signgate test"}},
		NotBefore: now.Add(-30 * 24 * time.Hour), NotAfter: now.Add(12 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, &key.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	t := &TSA{Root: root}
	t.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ts := &timestamp.Timestamp{
			HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: t.stampTime(),
			Nonce: req.Nonce, Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, SerialNumber: big.NewInt(time.Now().UnixNano()),
			Accuracy: time.Second, AddTSACertificate: true, Certificates: []*x509.Certificate{root},
		}
		resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		_, _ = w.Write(resp)
	}))
	t.URL = t.srv.URL
	return t, nil
}

// StampAt makes the TSA stamp at instead of the present, as if it had
// countersigned then (within its certificate's validity: from a month ago).
func (t *TSA) StampAt(at time.Time) { t.at.Store(&at) }

func (t *TSA) stampTime() time.Time {
	if at := t.at.Load(); at != nil {
		return *at
	}
	return time.Now()
}

// Close stops the TSA.
func (t *TSA) Close() { t.srv.Close() }

// RootPEM is the TSA's root, for signgate's [certs] (kind "tsa").
func (t *TSA) RootPEM() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: t.Root.Raw}))
}

// timestamper is the client notation signs with to reach t, and t's roots.
func (t *TSA) timestamper() (tspclient.Timestamper, *x509.CertPool, error) {
	ts, err := tspclient.NewHTTPTimestamper(nil, t.URL)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(t.Root)
	return ts, roots, nil
}

// SignNotationTimestamped signs img and has tsa countersign the signature
// with the time, as `notation sign --timestamp-url` does.
func (p *PKI) SignNotationTimestamped(ctx context.Context, repo *remote.Repository, img name.Digest, envelope string, tsa *TSA) error {
	s, err := signer.NewGenericSigner(p.leafKey, []*x509.Certificate{p.Leaf, p.Root})
	if err != nil {
		return err
	}
	ts, roots, err := tsa.timestamper()
	if err != nil {
		return err
	}
	_, err = notation.Sign(ctx, s, notationregistry.NewRepository(repo), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: envelope, Timestamper: ts, TSARootCAs: roots},
		ArtifactReference: img.String(),
	})
	return err
}
