package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// StartTokenRegistry runs the distribution v3 registry with token auth,
// as Docker Hub, Harbor and GitLab do: a registry that accepts only
// bearer tokens, and a token service that gives them for user:password
// (basic auth) and the scope asked for. Both are served on one TLS port
// (a small front: /token is the token service, the rest goes to the
// registry), so the realm is on the registry's own host, as Harbor's is;
// go-containerregistry refuses a realm on another private address.
func StartTokenRegistry(dir, bin, user, password string) (*AuthRegistry, error) {
	front, err := freePort()
	if err != nil {
		return nil, err
	}
	inner, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &AuthRegistry{Host: fmt.Sprintf("127.0.0.1:%d", front), CA: filepath.Join(dir, "ca.pem"), User: user, Password: password}
	if r.pool, err = writeServerCert(dir); err != nil {
		return nil, err
	}
	signer, certDER, err := tokenSigner(dir)
	if err != nil {
		return nil, err
	}
	const service, issuer = "signgate-test-registry", "signgate-test-token-service"
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %[1]s/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:%[2]d
  relativeurls: true
auth:
  token:
    realm: https://%[3]s/token
    service: %[4]s
    issuer: %[5]s
    rootcertbundle: %[1]s/token-signer.pem
`, dir, inner, r.Host, service, issuer)
	cmd, err := startDistribution(bin, dir, cfg)
	if err != nil {
		return nil, err
	}
	r.cmd = cmd

	upstream, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", inner))
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	tokens := &tokenService{user: user, password: password, service: service, issuer: issuer, key: signer, x5c: base64.StdEncoding.EncodeToString(certDER)}
	mux := http.NewServeMux()
	mux.Handle("/token", tokens)
	mux.Handle("/", proxy)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		return nil, err
	}
	l, err := tls.Listen("tcp", r.Host, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	r.close = func() { _ = srv.Close() }

	client := &http.Client{Transport: r.transport(), Timeout: time.Second}
	if err := WaitFor(15*time.Second, func() error {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
			return fmt.Errorf("/v2/ answered %s (%s), want a bearer challenge", resp.Status, resp.Header.Get("WWW-Authenticate"))
		}
		return nil
	}); err != nil {
		r.Stop()
		out, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		return nil, fmt.Errorf("distribution registry did not come up: %w\n%s", err, out)
	}
	r.Tokens = func() []string {
		tokens.mu.Lock()
		defer tokens.mu.Unlock()
		return append([]string(nil), tokens.issued...)
	}
	return r, nil
}

// tokenSigner makes the token service's key and a self-signed certificate
// for it, which the registry trusts (token-signer.pem).
func tokenSigner(dir string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "signgate test token service"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return key, der, writePEM(filepath.Join(dir, "token-signer.pem"), "CERTIFICATE", der)
}

// tokenService is the Docker token protocol's GET /token: basic auth in,
// a JWT (ES256, its certificate in x5c) for the scopes asked for out.
type tokenService struct {
	user, password  string
	service, issuer string
	key             *ecdsa.PrivateKey
	x5c             string
	mu              sync.Mutex
	issued          []string
}

func (s *tokenService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.user || p != s.password {
		w.Header().Set("WWW-Authenticate", `Basic realm="signgate-test-token-service"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
		return
	}
	type access struct {
		Type    string   `json:"type"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	}
	var granted []access
	for _, scope := range r.URL.Query()["scope"] {
		for _, sc := range strings.Split(scope, " ") {
			parts := strings.Split(sc, ":")
			if len(parts) != 3 {
				continue
			}
			granted = append(granted, access{Type: parts[0], Name: parts[1], Actions: strings.Split(parts[2], ",")})
		}
	}
	now := time.Now()
	claims := map[string]any{"iss": s.issuer, "sub": u, "aud": s.service, "exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "jti": fmt.Sprint(now.UnixNano()), "access": granted}
	tok, err := s.sign(claims)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300, "issued_at": now.Format(time.RFC3339)})
}

func (s *tokenService) sign(claims map[string]any) (string, error) {
	enc := base64.RawURLEncoding
	h, err := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "x5c": []string{s.x5c}})
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	rr, ss, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return input + "." + enc.EncodeToString(sig), nil
}
