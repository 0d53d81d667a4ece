// Package keystore holds the named public keys that policies trust.
//
// A Key is immutable once loaded; a Store is a versioned snapshot of keys that
// is swapped whole on reload, so a verification never sees half a rotation.
// Where keys come from is a Source: inline PEM and files, or the versions a
// KMS syncer trusts now, without the verifiers knowing the difference.
package keystore

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
)

// Key is one trusted public key.
type Key struct {
	Name        string           // the name policies refer to
	Source      string           // where it came from: "inline", "file:/path", or a KMS reference
	Version     string           // the source's version of the key, if it has versions
	Algorithm   string           // e.g. "ecdsa-p256", "rsa-3072", "ed25519"
	Fingerprint string           // "sha256:<hex>" of the DER SubjectPublicKeyInfo
	Public      crypto.PublicKey // the key itself
	Verifier    signature.Verifier
	// NotAfter is when this version stops being trusted unless renewed: a
	// rotated-out KMS version's grace end, or its last sync plus
	// max_staleness. Zero for never. It is judged when keys are used, not
	// only when a sync succeeds.
	NotAfter time.Time
}

// ParsePublicKeyPEM parses one PEM "PUBLIC KEY" block (PKIX) and builds a
// verifier for it. RSA keys are verified as PKCS#1 v1.5 with SHA-256, as cosign
// signs them; ECDSA with the hash its curve calls for.
func ParsePublicKeyPEM(name, source string, data []byte) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("key %q (%s): no PEM block found", name, source)
	}
	if extra, _ := pem.Decode(rest); extra != nil {
		return nil, fmt.Errorf("key %q (%s): more than one PEM block; give one key per entry", name, source)
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("key %q (%s): PEM block is %q, want \"PUBLIC KEY\" (a private key must never be given to signgate)", name, source, block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): malformed public key: %w", name, source, err)
	}
	return NewKey(name, source, "", pub)
}

// NewKey checks that pub is of a kind signgate accepts and describes it.
func NewKey(name, source, version string, pub crypto.PublicKey) (*Key, error) {
	alg, hash, err := describe(pub)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): %w", name, source, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): %w", name, source, err)
	}
	v, err := signature.LoadVerifier(pub, hash)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): %w", name, source, err)
	}
	sum := sha256.Sum256(der)
	return &Key{
		Name:        name,
		Source:      source,
		Version:     version,
		Algorithm:   alg,
		Fingerprint: "sha256:" + hex.EncodeToString(sum[:]),
		Public:      pub,
		Verifier:    v,
	}, nil
}

func describe(pub crypto.PublicKey) (string, crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecdsa-p256", crypto.SHA256, nil
		case elliptic.P384():
			return "ecdsa-p384", crypto.SHA384, nil
		case elliptic.P521():
			return "ecdsa-p521", crypto.SHA512, nil
		}
		return "", 0, errors.New("unsupported ECDSA curve (want P-256, P-384 or P-521)")
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", 0, fmt.Errorf("RSA key of %d bits is too weak (want at least 2048)", k.N.BitLen())
		}
		return fmt.Sprintf("rsa-%d", k.N.BitLen()), crypto.SHA256, nil
	case ed25519.PublicKey:
		return "ed25519", crypto.Hash(0), nil
	}
	return "", 0, fmt.Errorf("unsupported public key type %T", pub)
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block.
func MarshalPublicKeyPEM(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}
