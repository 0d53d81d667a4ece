package registry_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// clientCert makes a CA and a client certificate it signed, returned as
// PEM: the certificate, its key, and both in one file's worth.
func clientCert(t *testing.T) (pool *x509.CertPool, certPEM, keyPEM []byte, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certPEM, keyPEM, cert
}

// mtlsRegistry is a registry wanting a client certificate of clientCert's
// CA, holding a pushed image at repoTag, closed at cleanup. It returns the
// server, its host:port, and the client's certificate and key PEM.
func mtlsRegistry(t *testing.T, repoTag string) (srv *httptest.Server, host string, certPEM, keyPEM []byte) {
	t.Helper()
	pool, certPEM, keyPEM, cert := clientCert(t)
	srv = httptest.NewUnstartedServer(quietRegistry())
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "https://")
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert}
	if _, err := sigtest.PushImage(host+"/"+repoTag, remote.WithTransport(tr)); err != nil {
		t.Fatal(err)
	}
	return srv, host, certPEM, keyPEM
}

// A registry that wants a client certificate (mTLS) is reached with the
// one hosts.toml's client names, in each of the forms containerd reads:
// a path to a PEM holding both, a list of such paths, [cert, key] pairs
// (relative to the hosts.toml). Without it, the handshake fails.
func TestHostsTomlClientCertificates(t *testing.T) {
	t.Parallel()
	srv, host, certPEM, keyPEM := mtlsRegistry(t, "app/m:v1")
	dir := t.TempDir()
	hosts := filepath.Join(dir, "mtls.example")
	if err := os.MkdirAll(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, b := range map[string][]byte{
		"ca.pem":     pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
		"client.crt": certPEM, "client.key": keyPEM, "client.pem": append(append([]byte{}, certPEM...), keyPEM...),
	} {
		if err := os.WriteFile(filepath.Join(hosts, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, client := range []string{
		`client = "client.pem"`,
		`client = ["client.pem"]`,
		`client = [["client.crt", "client.key"]]`,
		fmt.Sprintf(`client = [[%q, ""]]`, filepath.Join(hosts, "client.pem")),
		"", // none: refused by the registry
	} {
		body := fmt.Sprintf("server = \"https://%s\"\nca = \"ca.pem\"\n%s\n", host, client)
		if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := registry.New(registry.Config{HostsDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		err = head(t, c, "mtls.example/app/m:v1")
		if client != "" && err != nil {
			t.Errorf("%s: %v", client, err)
		}
		if client == "" && err == nil {
			t.Error("reached an mTLS registry without a client certificate")
		}
	}
	bad := "server = \"https://" + host + "\"\nclient = [1]\n"
	if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := registry.New(registry.Config{HostsDir: dir})
	if err := head(t, c, "mtls.example/app/m:v1"); err == nil || !strings.Contains(err.Error(), "client must be a path") || !strings.Contains(err.Error(), "hosts.toml") {
		t.Errorf("bad client: %v", err)
	}
}
