package keystore

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
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
