package podsecrets

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue is a leaf for cn (a server's for 127.0.0.1 when server), as
// certificate and key PEM in one, as the kubelet writes its client pair.
func (ca *testCA) issue(t *testing.T, cn string, server bool) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
}

// replace writes b to path as a rotation does (a new file renamed over
// the old), dated at so that no clock granularity hides the change.
func replace(t *testing.T, path string, b []byte, at time.Time) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, at, at); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The client certificate (the kubelet's kubelet-client-current.pem
// rotates) and the API server's CA are read again when their files
// change: read once, signgate would present an expired certificate, or
// refuse a re-issued server certificate, until restarted.
func TestRotatedCertificatesAreReadAgain(t *testing.T) {
	clientCA, ca1, ca2 := newTestCA(t, "client-ca"), newTestCA(t, "ca1"), newTestCA(t, "ca2")
	var serverCert atomic.Pointer[tls.Certificate]
	load := func(b []byte) *tls.Certificate {
		c, err := tls.X509KeyPair(b, b)
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
	serverCert.Store(load(ca1.issue(t, "apiserver", true)))
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"cn": r.TLS.PeerCertificates[0].Subject.CommonName})
	}))
	// TLS of our own: httptest's would serve its own certificate.
	srv.Listener = tls.NewListener(srv.Listener, &tls.Config{
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return serverCert.Load(), nil },
	})
	srv.Start()
	t.Cleanup(srv.Close)
	url := "https://" + srv.Listener.Addr().String()

	dir := t.TempDir()
	caFile, pair := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "kubelet-client-current.pem")
	at := time.Now()
	replace(t, caFile, ca1.pem, at)
	replace(t, pair, clientCA.issue(t, "system:node:old", false), at)
	api, err := NewAPI(Conn{Server: url, CAFile: caFile, CertFile: pair, KeyFile: pair})
	if err != nil {
		t.Fatal(err)
	}
	who := func() string {
		t.Helper()
		var out struct{ CN string }
		if err := api.get(context.Background(), "/whoami", &out); err != nil {
			t.Fatal(err)
		}
		return out.CN
	}
	if got := who(); got != "system:node:old" {
		t.Fatalf("presented %q", got)
	}

	replace(t, pair, clientCA.issue(t, "system:node:new", false), at.Add(time.Minute))
	if got := who(); got != "system:node:new" {
		t.Errorf("after the client certificate rotated, presented %q, want system:node:new", got)
	}

	// The API server's certificate is re-issued by another CA, and the
	// CA file follows.
	serverCert.Store(load(ca2.issue(t, "apiserver", true)))
	srv.CloseClientConnections()
	replace(t, caFile, ca2.pem, at.Add(2*time.Minute))
	var out struct{ CN string }
	if err := api.get(context.Background(), "/whoami", &out); err != nil {
		t.Errorf("after the CA rotated: %v", err)
	}

	// A pair caught mid-rotation keeps the one in use.
	replace(t, pair, []byte("not yet"), at.Add(3*time.Minute))
	if got := who(); got != "system:node:new" {
		t.Errorf("with a half-written pair, presented %q", got)
	}
}
