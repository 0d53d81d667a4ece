// Package kmstest runs KMS servers for tests: AWS KMS through the
// local-kms emulator, and, where no emulator exists, servers that speak the
// real wire API of Vault's transit engine (HTTP), Google Cloud KMS (gRPC)
// and Azure Key Vault (HTTPS), so signgate's providers are tested through
// the real client libraries.
package kmstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/vaultkms"
)

// Vault speaks the parts of Vault's HTTP API that signgate reads: GET
// /v1/<mount>/keys/<name> with an X-Vault-Token, answering as Vault's
// transit engine does (ECDSA P-256 keys, PEM public keys per version,
// latest_version, min_decryption_version, min_available_version).
type Vault struct {
	URL   string
	Token string
	Mount string

	srv      *httptest.Server
	mu       sync.Mutex
	keys     map[string]*vaultKey
	down     atomic.Bool
	Requests atomic.Int64 // every request, answered or not
}

type vaultKey struct {
	versions      map[int]*ecdsa.PrivateKey
	created       map[int]time.Time
	latest        int
	minDecryption int
	minAvailable  int
	publicKeys    map[int]string // served instead of a version's own public key
}

// NewVault starts a server; it stops with the test.
func NewVault(t testing.TB) *Vault {
	v := &Vault{Token: "s.test-token", Mount: "transit", keys: map[string]*vaultKey{}}
	v.srv = httptest.NewServer(http.HandlerFunc(v.serve))
	t.Cleanup(v.srv.Close)
	v.URL = v.srv.URL
	return v
}

// NewVaultKey starts a server holding key name, its token in VAULT_TOKEN
// (where the SDK reads it); it stops with the test.
func NewVaultKey(t testing.TB, name string) *Vault {
	t.Helper()
	v := NewVault(t)
	t.Setenv("VAULT_TOKEN", v.Token)
	v.CreateKey(t, name)
	return v
}

func vaultError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []string{msg}})
}

func (v *Vault) serve(w http.ResponseWriter, r *http.Request) {
	v.Requests.Add(1)
	if v.down.Load() {
		vaultError(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if r.Header.Get("X-Vault-Token") != v.Token {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	prefix := "/v1/" + v.Mount + "/keys/"
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, prefix) {
		vaultError(w, http.StatusNotFound, "unsupported path")
		return
	}
	name := strings.TrimPrefix(r.URL.Path, prefix)
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok := v.keys[name]
	if !ok {
		// Vault answers a missing key with 404 and no errors.
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"errors":[]}`))
		return
	}
	versions := map[string]any{}
	for n, priv := range k.versions {
		if n < k.minAvailable {
			continue
		}
		der, _ := x509.MarshalPKIXPublicKey(priv.Public())
		pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		if o, ok := k.publicKeys[n]; ok {
			pub = o
		}
		versions[strconv.Itoa(n)] = map[string]any{
			"name":          "P-256",
			"public_key":    pub,
			"creation_time": k.created[n].Format(time.RFC3339Nano),
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"request_id": "fake", "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": map[string]any{
			"name": name, "type": "ecdsa-p256", "latest_version": k.latest,
			"min_decryption_version": k.minDecryption, "min_available_version": k.minAvailable,
			"deletion_allowed": false, "exportable": false, "supports_signing": true, "keys": versions,
		},
	})
}

// Provider is signgate's Vault provider pointed at this server, with the
// token in a file as kms.vault.token_file gives it.
func (v *Vault) Provider(t testing.TB) kms.Provider {
	tokenFile := filepath.Join(t.TempDir(), "vault-token")
	if err := os.WriteFile(tokenFile, []byte(v.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := vaultkms.New(context.Background(), kms.Settings{Endpoint: v.URL, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CreateKey makes an ECDSA P-256 key with version 1.
func (v *Vault) CreateKey(t testing.TB, name string) {
	v.mu.Lock()
	v.keys[name] = &vaultKey{versions: map[int]*ecdsa.PrivateKey{}, created: map[int]time.Time{}, minDecryption: 1}
	v.mu.Unlock()
	v.Rotate(t, name)
}

// Rotate adds a version and makes it the latest, as POST .../rotate does.
func (v *Vault) Rotate(t testing.TB, name string) int {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	k := v.keys[name]
	k.latest++
	k.versions[k.latest] = priv
	k.created[k.latest] = time.Now()
	return k.latest
}

// SetMinDecryptionVersion retires older versions, as POST .../config does:
// Vault then refuses to verify with them.
func (v *Vault) SetMinDecryptionVersion(name string, n int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys[name].minDecryption = n
}

// SetPublicKey serves text as a version's public key, such as one that does
// not parse.
func (v *Vault) SetPublicKey(name string, version int, text string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := v.keys[name]
	if k.publicKeys == nil {
		k.publicKeys = map[int]string{}
	}
	k.publicKeys[version] = text
}

// Delete removes a key.
func (v *Vault) Delete(name string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.keys, name)
}

// SetDown makes every request fail, as a sealed Vault does.
func (v *Vault) SetDown(down bool) { v.down.Store(down) }

// Signer signs with a version's private key, as Vault's sign endpoint would.
func (v *Vault) Signer(t testing.TB, name string, version int) signature.Signer {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, err := signature.LoadECDSASignerVerifier(v.keys[name].versions[version], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
