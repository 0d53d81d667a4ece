package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

func quietRegistry() http.Handler {
	return ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
}

func head(t *testing.T, c *registry.Client, ref string) error {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := c.Options(context.Background(), r.Context())
	if err != nil {
		return err
	}
	_, err = remote.Head(r, opts...)
	return err
}

// authRegistry serves an in-memory registry behind basic auth, with one
// image pushed as repo, and returns its host.
func authRegistry(t *testing.T, user, pass, repo string) string {
	t.Helper()
	reg := quietRegistry()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	if _, err := sigtest.PushImage(host+"/"+repo, remote.WithAuth(&basic{user, pass})); err != nil {
		t.Fatal(err)
	}
	return host
}

func TestCredentialsFromTheNamedDockerConfig(t *testing.T) {
	host := authRegistry(t, "node", "s3cret", "app/x:v1")

	anon, _ := registry.New(registry.Config{})
	if err := head(t, anon, host+"/app/x:v1"); err == nil {
		t.Fatal("anonymous access succeeded against an authenticated registry")
	}
	// Even with credentials in the daemon user's own docker config, signgate
	// stays anonymous unless its config names a file.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", home)
	dc := filepath.Join(home, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("node:s3cret"))
	if err := os.WriteFile(dc, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := head(t, anon, host+"/app/x:v1"); err == nil {
		t.Fatal("the daemon user's docker config was used")
	}
	named, err := registry.New(registry.Config{DockerConfig: dc})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, named, host+"/app/x:v1"); err != nil {
		t.Fatalf("with the named docker config: %v", err)
	}
	if _, err := registry.New(registry.Config{DockerConfig: filepath.Join(home, "missing.json")}); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("a missing docker config should be an error naming it, got %v", err)
	}
}

type basic struct{ u, p string }

func (b *basic) Authorization() (*authn.AuthConfig, error) {
	return &authn.AuthConfig{Username: b.u, Password: b.p}, nil
}

func TestHostsTomlMirrorAndCA(t *testing.T) {
	// The mirror speaks TLS with a certificate only hosts.toml's CA trusts.
	mirror := httptest.NewTLSServer(quietRegistry())
	defer mirror.Close()
	mhost := strings.TrimPrefix(mirror.URL, "https://")
	// Push through the mirror under its own name; signgate then reads
	// "upstream.invalid/app/y" via the mirror. The upstream server itself is
	// a loopback port nothing listens on, so no name lookup leaves the host.
	if _, err := sigtest.PushImage(mhost+"/app/y:v1", remote.WithTransport(mirror.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "mirror-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: mirror.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts := filepath.Join(dir, "upstream.invalid")
	if err := os.MkdirAll(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("server = \"https://127.0.0.1:1\"\n[host.\"https://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", mhost, ca))
	c, err := registry.New(registry.Config{HostsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, c, "upstream.invalid/app/y:v1"); err != nil {
		t.Fatalf("through the mirror: %v", err)
	}

	// Without the CA the mirror's certificate is refused, and the upstream
	// does not exist: the read fails rather than skipping verification.
	write(fmt.Sprintf("server = \"https://127.0.0.1:1\"\n[host.\"https://%s\"]\n  capabilities = [\"pull\"]\n", mhost))
	c, _ = registry.New(registry.Config{HostsDir: dir})
	if err := head(t, c, "upstream.invalid/app/y:v1"); err == nil {
		t.Fatal("a mirror with an untrusted certificate was used")
	}

	write("server = \"ftp://upstream.invalid\"\n")
	c, _ = registry.New(registry.Config{HostsDir: dir})
	if err := head(t, c, "upstream.invalid/app/y:v1"); err == nil || !strings.Contains(err.Error(), "hosts.toml") {
		t.Fatalf("a bad hosts.toml should be an error naming it, got %v", err)
	}
}

// pushed serves an in-memory registry holding one image at repo:v1.
func pushed(t *testing.T, repo string) (*httptest.Server, name.Digest) {
	t.Helper()
	srv := httptest.NewServer(quietRegistry())
	t.Cleanup(srv.Close)
	d, err := sigtest.PushImage(strings.TrimPrefix(srv.URL, "http://") + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	return srv, d
}

// readConfig reads img's config blob through c, as a verification reads
// a signature.
func readConfig(c *registry.Client, img name.Digest) error {
	opts, err := c.Options(context.Background(), img.Context())
	if err != nil {
		return err
	}
	i, err := remote.Image(img, opts...)
	if err != nil {
		return err
	}
	_, err = i.ConfigFile()
	return err
}

func TestBlobSizeCap(t *testing.T) {
	_, d := pushed(t, "app/z")
	c, _ := registry.New(registry.Config{MaxBlobBytes: 64})
	if err := readConfig(c, d); err == nil || !strings.Contains(err.Error(), "exceeds the 64-byte limit") {
		t.Fatalf("want the blob refused for its size, got %v", err)
	}
}

// A credential helper named in the docker config is run to get credentials,
// as docker and containerd's CRI would.
func TestCredentialHelperNamedInDockerConfig(t *testing.T) {
	host := authRegistry(t, "helper-user", "helper-secret", "app/h:v1")
	dir := t.TempDir()
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}'\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-sgtest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	dc := filepath.Join(dir, "config.json")
	if err := os.WriteFile(dc, []byte(fmt.Sprintf(`{"credHelpers":{%q:"sgtest"}}`, host)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := registry.New(registry.Config{DockerConfig: dc})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, c, host+"/app/h:v1"); err != nil {
		t.Fatalf("with the credential helper: %v", err)
	}
}

// Observe hears every exchange, timed to the closing of its body.
func TestObserveHearsEachExchange(t *testing.T) {
	srv, d := pushed(t, "app/o")
	host := strings.TrimPrefix(srv.URL, "http://")
	var seen []registry.Exchange
	c, _ := registry.New(registry.Config{Observe: func(x registry.Exchange) { seen = append(seen, x) }})
	if err := readConfig(c, d); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range seen {
		if x.Took <= 0 {
			t.Errorf("exchange %+v: not timed", x)
		}
		got = append(got, x.Method+" "+x.URL)
	}
	// The first contact: one ping, tried over HTTPS first as
	// go-containerregistry does with a loopback registry; the handshake
	// that follows tries HTTPS again (no answer came to keep) and takes
	// the plain-HTTP answer as kept; the manifest and the config blob.
	ping := []string{"GET https://" + host + "/v2/", "GET " + srv.URL + "/v2/"}
	want := append(append(ping, "GET https://"+host+"/v2/"), "GET "+srv.URL+"/v2/app/o/manifests/"+d.DigestStr(), "GET "+srv.URL+"/v2/app/o/blobs/")
	if len(got) != len(want) {
		t.Fatalf("heard %v; want %v", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("heard %v; want %v", got, want)
		}
	}
}
