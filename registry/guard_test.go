package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/registry"
)

// A registry that redirects to itself: one verification must end at once,
// naming the loop, not loop until its timeout (~53,000 requests before).
func TestRedirectLoopIsCut(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		n.Add(1)
		http.Redirect(w, r, fmt.Sprintf("%s?hop=%d", r.URL.Path, n.Load()), http.StatusFound)
	}))
	defer srv.Close()
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ref, _ := name.ParseReference(host + "/loop/app:v1")
	opts, err := c.Options(ctx, ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = remote.Head(ref, opts...)
	if !errors.Is(err, registry.ErrRedirects) || !strings.Contains(err.Error(), "more than 5 redirects") || strings.Count(err.Error(), " -> ") != registry.MaxRedirects+1 {
		t.Fatalf("a redirect loop gave %v", err)
	}
	if took := time.Since(start); took > 2*time.Second || n.Load() > 20 {
		t.Fatalf("the loop was cut after %s and %d requests", took, n.Load())
	}
}

// recorder is a server that notes every Authorization header it is sent.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecorder(t *testing.T, h func(w http.ResponseWriter, r *http.Request)) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			rec.mu.Lock()
			rec.auth = append(rec.auth, r.URL.Path+": "+a)
			rec.mu.Unlock()
		}
		h(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) host() string { return strings.TrimPrefix(r.URL, "http://") }

func (r *recorder) sawCredentials() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

func dockerConfig(t *testing.T, host, user, pass string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Credentials go to the registry they belong to, and nowhere else: not to
// a mirror hosts.toml puts in front of it, not to another host a redirect
// names (see also TestTokenServiceMustBeNamedByTheRegistry).
func TestCredentialsStayWithTheirRegistry(t *testing.T) {
	t.Run("a mirror", func(t *testing.T) {
		mirror := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("WWW-Authenticate", `Basic realm="mirror"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		})
		reg := authRegistry(t, "node", "s3cret", "app/x:v1")
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, reg), 0o755); err != nil {
			t.Fatal(err)
		}
		hosts := fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\"]\n", reg, mirror.host())
		if err := os.WriteFile(filepath.Join(dir, reg, "hosts.toml"), []byte(hosts), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := registry.New(registry.Config{HostsDir: dir, DockerConfig: dockerConfig(t, reg, "node", "s3cret")})
		if err != nil {
			t.Fatal(err)
		}
		_ = head(t, c, reg+"/app/x:v1")
		if got := mirror.sawCredentials(); len(got) > 0 {
			t.Errorf("the mirror was sent the registry's credentials: %q", got)
		}
	})
	t.Run("another host a redirect names", func(t *testing.T) {
		other := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
		inner := quietRegistry()
		reg := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "node" || p != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if strings.Contains(r.URL.Path, "/manifests/") {
				http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
			inner.ServeHTTP(w, r)
		})
		c, err := registry.New(registry.Config{DockerConfig: dockerConfig(t, reg.host(), "node", "s3cret")})
		if err != nil {
			t.Fatal(err)
		}
		_ = head(t, c, reg.host()+"/app/x:v1")
		if len(reg.sawCredentials()) == 0 {
			t.Fatal("the registry itself was never sent its credentials")
		}
		if got := other.sawCredentials(); len(got) > 0 {
			t.Errorf("a host a redirect named was sent the registry's credentials: %q", got)
		}
	})
}
