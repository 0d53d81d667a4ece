package keystore

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"sort"
	"time"
)

// Certificate kinds: a root CA that signing certificates chain to, a root
// for RFC 3161 timestamping authorities, or the root of a signing authority
// (a managed signing service such as AWS Signer: notation's
// "signingAuthority" trust store, for signatures of the
// notary.x509.signingAuthority scheme only).
const (
	CertCA               = "ca"
	CertTSA              = "tsa"
	CertSigningAuthority = "signing_authority"
)

// Cert is a named set of trusted certificates (a root and, optionally, the
// rest of its chain), for Notary Project signatures.
type Cert struct {
	Name        string
	Source      string
	Kind        string // CertCA, CertTSA or CertSigningAuthority
	Certs       []*x509.Certificate
	Fingerprint string // "sha256:<hex>" of the first certificate
}

// ParseCertsPEM parses one or more PEM CERTIFICATE blocks and checks them: the
// first must be a CA or self-signed, and none may be expired.
func ParseCertsPEM(name, source, kind string, data []byte, now time.Time) (*Cert, error) {
	if kind != CertCA && kind != CertTSA && kind != CertSigningAuthority {
		return nil, fmt.Errorf("certificate %q (%s): kind %q: want %q, %q or %q", name, source, kind, CertCA, CertTSA, CertSigningAuthority)
	}
	var certs []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %q (%s): PEM block is %q, want \"CERTIFICATE\"", name, source, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %q (%s): malformed certificate: %w", name, source, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("certificate %q (%s): no PEM certificate found", name, source)
	}
	// A trust anchor is a CA, or a self-signed certificate pinned as its own
	// root (what `notation cert generate-test` makes). A certificate some
	// other CA issued can anchor nothing.
	if root := certs[0]; !(root.BasicConstraintsValid && root.IsCA) && !selfSigned(root) {
		return nil, fmt.Errorf("certificate %q (%s): %q is neither a CA nor self-signed; trust its issuing root CA instead", name, source, root.Subject)
	}
	for _, c := range certs {
		if now.After(c.NotAfter) {
			return nil, fmt.Errorf("certificate %q (%s): %q expired on %s", name, source, c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	sum := sha256.Sum256(certs[0].Raw)
	return &Cert{Name: name, Source: source, Kind: kind, Certs: certs, Fingerprint: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// selfSigned: issued by itself and signed by its own key. (CheckSignatureFrom
// would insist the issuer be a CA.)
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// StaticCert is a certificate declared in the config: inline PEM or a file.
type StaticCert struct {
	Name string
	Kind string
	PEM  string
	Path string
}

// Load parses the declared certificate.
func (sc StaticCert) Load(now time.Time) (*Cert, error) {
	switch {
	case sc.PEM != "" && sc.Path != "":
		return nil, fmt.Errorf("certificate %q: give either pem or path, not both", sc.Name)
	case sc.PEM != "":
		return ParseCertsPEM(sc.Name, "inline", sc.Kind, []byte(sc.PEM), now)
	case sc.Path != "":
		data, err := os.ReadFile(sc.Path)
		if err != nil {
			return nil, fmt.Errorf("certificate %q: %w", sc.Name, err)
		}
		return ParseCertsPEM(sc.Name, "file:"+sc.Path, sc.Kind, data, now)
	}
	return nil, fmt.Errorf("certificate %q: neither pem nor path is set", sc.Name)
}

// WithCerts returns a store holding s's keys and certs.
func (s *Store) WithCerts(certs ...*Cert) (*Store, error) {
	out := &Store{keys: s.keys, expires: s.expires, certs: make(map[string]*Cert, len(certs))}
	for _, c := range certs {
		if _, dup := out.certs[c.Name]; dup {
			return nil, fmt.Errorf("certificate %q is defined twice", c.Name)
		}
		out.certs[c.Name] = c
	}
	return out, nil
}

// Cert returns the certificate called name.
func (s *Store) Cert(name string) (*Cert, bool) {
	c, ok := s.certs[name]
	return c, ok
}

// Certs returns every certificate, sorted by name.
func (s *Store) Certs() []*Cert {
	out := make([]*Cert, 0, len(s.certs))
	for _, c := range s.certs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
