package keystore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func pemOf(t *testing.T, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestKeyKinds(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	r, _ := rsa.GenerateKey(rand.Reader, 2048)
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	for alg, pub := range map[string]any{"ecdsa-p256": &p256.PublicKey, "ecdsa-p384": &p384.PublicKey, "rsa-2048": &r.PublicKey, "ed25519": ed} {
		k, err := ParsePublicKeyPEM("k", "inline", pemOf(t, pub))
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if k.Algorithm != alg || !strings.HasPrefix(k.Fingerprint, "sha256:") || k.Verifier == nil {
			t.Errorf("%s: got %+v", alg, k)
		}
	}
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := ParsePublicKeyPEM("weak", "inline", pemOf(t, &weak.PublicKey)); err == nil || !strings.Contains(err.Error(), `key "weak"`) {
		t.Errorf("1024-bit RSA: %v", err)
	}
	two := append(pemOf(t, ed), pemOf(t, ed)...)
	if _, err := ParsePublicKeyPEM("two", "inline", two); err == nil {
		t.Error("two PEM blocks accepted")
	}
}

func TestStoreRejectsDuplicateNames(t *testing.T) {
	ed, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := NewKey("a", "inline", "", ed)
	if _, err := NewStore(k, k); err == nil {
		t.Fatal("duplicate accepted")
	}
}

func TestSelfSignedLeafIsAnAnchorButAnIssuedLeafIsNot(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "self"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	self, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if _, err := ParseCertsPEM("self", "inline", CertCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: self}), time.Now()); err != nil {
		t.Fatalf("a self-signed signing certificate: %v", err)
	}
	issuerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuer := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "issuer"}, NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	tmpl.Subject.CommonName = "issued"
	issued, _ := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
	if _, err := ParseCertsPEM("issued", "inline", CertCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issued}), time.Now()); err == nil || !strings.Contains(err.Error(), "neither a CA nor self-signed") {
		t.Fatalf("a certificate another CA issued was accepted as a root: %v", err)
	}
}
