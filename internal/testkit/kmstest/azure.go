package kmstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Azure serves Key Vault's REST API (the key reads signgate makes) over
// TLS, with Key Vault's bearer challenge, for the real azkeys client.
type Azure struct {
	Host string // host:port, for azurekms://HOST/KEY

	srv   *httptest.Server
	mu    sync.Mutex
	keys  map[string][]*azureVersion
	token string
}

type azureVersion struct {
	id      string
	priv    *ecdsa.PrivateKey
	enabled bool
	created time.Time
	crv     string // served instead of P-256, such as one signgate does not support
}

// NewAzure starts a server; it stops with the test.
func NewAzure(t testing.TB) *Azure {
	a := &Azure{keys: map[string][]*azureVersion{}, token: "fake-azure-token"}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	a.Host = strings.TrimPrefix(a.srv.URL, "https://")
	return a
}

// ClientOptions trust the server's certificate and accept its challenge.
func (a *Azure) ClientOptions() *azkeys.ClientOptions {
	return &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{Transport: a.srv.Client()}, DisableChallengeResourceVerification: true}
}

// Credential hands out the token the server accepts.
func (a *Azure) Credential() azcore.TokenCredential { return staticToken(a.token) }

type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// CreateKey makes an EC P-256 key with one version.
func (a *Azure) CreateKey(t testing.TB, name string) string {
	a.mu.Lock()
	a.keys[name] = nil
	a.mu.Unlock()
	return a.Rotate(t, name)
}

// Rotate adds a version, which becomes current; it returns its ID.
func (a *Azure) Rotate(t testing.TB, name string) string {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	v := &azureVersion{id: hex.EncodeToString(b), priv: priv, enabled: true, created: time.Now().Add(time.Duration(len(a.keys[name])) * time.Second)}
	a.keys[name] = append(a.keys[name], v)
	return v.id
}

// SetEnabled enables or disables a version.
func (a *Azure) SetEnabled(name, version string, enabled bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.keys[name] {
		if v.id == version {
			v.enabled = enabled
		}
	}
}

// SetCurve serves a version's key as being on crv (e.g. "P-256K", which
// signgate does not verify with).
func (a *Azure) SetCurve(name, version, crv string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.keys[name] {
		if v.id == version {
			v.crv = crv
		}
	}
}

// Delete removes a key (soft-deleted keys are not served either).
func (a *Azure) Delete(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.keys, name)
}

// Signer signs with a version's private key.
func (a *Azure) Signer(t testing.TB, name, version string) signature.Signer {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.keys[name] {
		if v.id == version {
			s, err := signature.LoadECDSASignerVerifier(v.priv, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	t.Fatalf("no version %s of %s", version, name)
	return nil
}

func (a *Azure) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+a.token {
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}`))
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(parts) < 2 || parts[0] != "keys" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	vs, ok := a.keys[parts[1]]
	if !ok || len(vs) == 0 {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"KeyNotFound","message":"A key with (name/id) ` + parts[1] + ` was not found in this key vault."}}`))
		return
	}
	base := "https://" + a.Host + "/keys/" + parts[1] + "/"
	switch {
	case len(parts) == 2: // the current version
		a.serveVersion(w, base, vs[len(vs)-1])
	case parts[2] == "versions":
		var list []any
		for _, v := range vs {
			list = append(list, map[string]any{"kid": base + v.id, "attributes": attributes(v)})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"value": list, "nextLink": nil})
	default:
		for _, v := range vs {
			if v.id == parts[2] {
				a.serveVersion(w, base, v)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"KeyNotFound","message":"no such version"}}`))
	}
}

// serveVersion answers for one version; Key Vault refuses a disabled one.
func (a *Azure) serveVersion(w http.ResponseWriter, base string, v *azureVersion) {
	if !v.enabled {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled key.","innererror":{"code":"KeyDisabled"}}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(a.bundle(base, v))
}

func attributes(v *azureVersion) map[string]any {
	return map[string]any{"enabled": v.enabled, "created": v.created.Unix(), "updated": v.created.Unix(), "recoveryLevel": "Recoverable+Purgeable"}
}

func (a *Azure) bundle(base string, v *azureVersion) map[string]any {
	b64 := base64.RawURLEncoding.EncodeToString
	point, err := v.priv.PublicKey.Bytes() // 0x04||X||Y
	if err != nil {
		panic(err)
	}
	crv := "P-256"
	if v.crv != "" {
		crv = v.crv
	}
	return map[string]any{
		"key": map[string]any{"kid": base + v.id, "kty": "EC", "crv": crv, "key_ops": []string{"sign", "verify"},
			"x": b64(point[1:33]), "y": b64(point[33:])},
		"attributes": attributes(v),
	}
}
