package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// downRegistry returns the address of a port nothing listens on.
func downRegistry(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// enforcing requires a cosign signature by a fresh key for reg/**.
func enforcing(t *testing.T, reg string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return enforcingWith(t, reg, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
}

// enforcingWith requires a cosign signature by the key pub for reg/**.
func enforcingWith(t *testing.T, reg, pub string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`
[daemon]
state_dir = "/nonexistent/signgate-state"
[registry]
verify_timeout = "5s"
[keys.k]
pem = """%s"""
[[policy]]
name = "p"
scopes = ["%s/**"]
[policy.cosign]
keys = ["k"]
`, pub, reg))
}

// With the registry down, verify says registry_error, prints no dangling
// "@" nor a zero "took", and exits 3: not the 1 of an untrusted image.
func TestVerifyRegistryDown(t *testing.T) {
	reg := downRegistry(t)
	cfg := enforcing(t, reg)
	for _, image := range []string{reg + "/app:v1", reg + "/app@sha256:" + strings.Repeat("0", 64)} {
		r := signgate(t, nil, "verify", "--config", cfg, image)
		if r.code != 3 {
			t.Errorf("%s: exit %d, want 3\n%s%s", image, r.code, r.stdout, r.stderr)
		}
		first, _, _ := strings.Cut(r.stdout, "\n")
		if strings.HasSuffix(first, "@") || strings.Contains(r.stdout, "took:     0s") || !strings.Contains(r.stdout, "cause:    registry_error") {
			t.Errorf("%s: want the image as named, cause registry_error and no zero took:\n%s", image, r.stdout)
		}
		r = signgate(t, nil, "verify", "--config", cfg, "--output", "json", image)
		var v struct{ Cause string }
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 3 || v.Cause != "registry_error" {
			t.Errorf("%s --output json: exit %d, cause %q (%v), want 3 and registry_error\n%s", image, r.code, v.Cause, err, r.stdout)
		}
	}
	// Outside any policy: denied (1) without asking the registry.
	r := signgate(t, nil, "verify", "--config", cfg, "example.org/app@sha256:"+strings.Repeat("0", 64))
	if r.code != 1 || !strings.Contains(r.stdout, "no_policy") {
		t.Errorf("no policy: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A tag the registry says does not exist is an unknown image: exit 1.
func TestVerifyMissingTagIsDenied(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	reg := strings.TrimPrefix(srv.URL, "http://")
	r := signgate(t, nil, "verify", "--config", enforcing(t, reg), reg+"/app:nosuchtag")
	if r.code != 1 || !strings.Contains(r.stdout, "cause:    image_unknown") {
		t.Errorf("missing tag: exit %d, want 1 and image_unknown\n%s%s", r.code, r.stdout, r.stderr)
	}
}
