package sigtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"time"
)

// OIDCIssuer is an OpenID Connect provider on loopback, as Fulcio asks one:
// discovery, its signing keys, and ID tokens for whichever email a test
// names (what Google or GitHub Actions would issue to a workload).
type OIDCIssuer struct {
	URL string
	key *rsa.PrivateKey
	srv *http.Server
}

// NewOIDCIssuer starts one.
func NewOIDCIssuer() (*OIDCIssuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &OIDCIssuer{URL: "http://" + l.Addr().String(), key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONTo(w, map[string]any{
			"issuer": o.URL, "jwks_uri": o.URL + "/keys",
			"authorization_endpoint": o.URL + "/auth", "token_endpoint": o.URL + "/token",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		writeJSONTo(w, map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "test", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = o.srv.Serve(l) }()
	return o, nil
}

// Token is an ID token for email, for the audience Sigstore uses.
func (o *OIDCIssuer) Token(email string) (string, error) {
	now := time.Now()
	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": "test", "typ": "JWT"})
	if err != nil {
		return "", err
	}
	claims, err := json.Marshal(map[string]any{
		"iss": o.URL, "aud": "sigstore", "sub": email, "email": email, "email_verified": true,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
	if err != nil {
		return "", err
	}
	signed := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, o.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return signed + "." + b64(sig), nil
}

// Close stops it.
func (o *OIDCIssuer) Close() { _ = o.srv.Close() }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func writeJSONTo(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
