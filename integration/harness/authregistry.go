package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// AuthRegistry is the distribution v3 registry (built from the module
// proxy: integration/tools/distribution) requiring htpasswd basic auth,
// over TLS with a CA of its own, on loopback.
type AuthRegistry struct {
	Host           string // 127.0.0.1:port
	CA             string // the CA's PEM file, for hosts.toml
	User, Password string
	// Tokens are the tokens the token service issued (token auth only).
	Tokens func() []string
	pool   *x509.CertPool
	cmd    *exec.Cmd
	close  func() // the token registry's front
}

// StartAuthRegistry runs bin/distribution-registry in dir.
func StartAuthRegistry(dir, bin, user, password string) (*AuthRegistry, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &AuthRegistry{Host: fmt.Sprintf("127.0.0.1:%d", port), CA: filepath.Join(dir, "ca.pem"), User: user, Password: password}
	if r.pool, err = writeServerCert(dir); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		return nil, err
	}
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
  addr: %[2]s
  tls:
    certificate: %[1]s/server.pem
    key: %[1]s/server-key.pem
auth:
  htpasswd:
    realm: signgate-test
    path: %[1]s/htpasswd
`, dir, r.Host)
	cmd, err := startDistribution(bin, dir, cfg)
	if err != nil {
		return nil, err
	}
	r.cmd = cmd
	client := &http.Client{Transport: r.transport(), Timeout: time.Second}
	if err := WaitFor(15*time.Second, func() error {
		resp, err := client.Get("https://" + r.Host + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("/v2/ answered %s, want 401", resp.Status)
		}
		return nil
	}); err != nil {
		r.Stop()
		out, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		return nil, fmt.Errorf("distribution registry did not come up: %w\n%s", err, out)
	}
	return r, nil
}

func (r *AuthRegistry) transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: r.pool, MinVersion: tls.VersionTLS12}
	return t
}

// Options reach the registry with its credentials, trusting its CA.
func (r *AuthRegistry) Options() []remote.Option {
	return []remote.Option{remote.WithTransport(r.transport()), remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password})}
}

// Stop ends the registry.
func (r *AuthRegistry) Stop() {
	if r.close != nil {
		r.close()
	}
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// writeServerCert writes a CA (ca.pem) and a server certificate for
// 127.0.0.1 and localhost it signed (server.pem, server-key.pem) into dir.
func writeServerCert(dir string) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signgate test registry CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, "ca.pem"), "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, "server.pem"), "CERTIFICATE", der); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, "server-key.pem"), key); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}

// RouteRegistry writes the hosts.toml that sends registry's requests to
// server, trusting ca: how a test names a registry (an ECR host, say) that
// lives on loopback, for containerd and signgate alike, without DNS.
func (e *Env) RouteRegistry(registry, server, ca string) error {
	d := filepath.Join(e.certsDir, registry)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(fmt.Sprintf("server = %q\nca = %q\n", server, ca)), 0o644)
}

// startDistribution writes cfg as dir/config.yml and starts distribution's
// registry on it, its output in dir/registry.log.
func startDistribution(bin, dir, cfg string) (*exec.Cmd, error) {
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "distribution-registry"), "serve", filepath.Join(dir, "config.yml"))
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	log, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	return cmd, nil
}
