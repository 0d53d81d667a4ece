package registry_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// tokenMirror is a pull-through cache that wants credentials: a registry
// behind bearer tokens, which its token service gives for user:pass. It
// notes every Authorization header it is sent.
type tokenMirror struct {
	host string
	mu   sync.Mutex
	seen []string
}

func newTokenMirror(t *testing.T, user, pass string) *tokenMirror {
	t.Helper()
	m := &tokenMirror{}
	reg := quietRegistry()
	token := "tok-" + pass[:4]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			m.seen = append(m.seen, a)
		}
		m.mu.Unlock()
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				http.Error(w, "bad credentials", http.StatusUnauthorized)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"token": token})
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="mirror"`, r.Host))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	m.host = strings.TrimPrefix(srv.URL, "http://")
	return m
}

func (m *tokenMirror) sawAny(s string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, a := range m.seen {
		if strings.Contains(a, s) {
			return true
		}
	}
	return false
}

// A hosts.toml mirror that wants credentials gets its own, from the same
// source as the registry's (here a docker config entry for the mirror's
// host), and answers a token for them; the registry's credentials never
// reach it. Without an entry of its own, the mirror is read anonymously.
func TestMirrorCredentials(t *testing.T) {
	t.Parallel()
	const upstreamPass, mirrorPass = "upstream-s3cret", "mirror-s3cret"
	m := newTokenMirror(t, "cache", mirrorPass)
	img, err := sigtest.PushImage(m.host+"/app/y:v1", remote.WithAuth(&basic{"cache", mirrorPass}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "upstream.invalid")
	if err := os.MkdirAll(hosts, 0o755); err != nil {
		t.Fatal(err)
	}
	// The upstream is a loopback port nothing listens on.
	if err := os.WriteFile(filepath.Join(hosts, "hosts.toml"), []byte(fmt.Sprintf("server = \"https://127.0.0.1:1\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", m.host)), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerConfig := func(entries map[string]string) string {
		auths := map[string]map[string]string{}
		for host, up := range entries {
			auths[host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(up))}
		}
		b, _ := json.Marshal(map[string]any{"auths": auths})
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ref := "upstream.invalid/app/y@" + img.DigestStr()

	both := dockerConfig(map[string]string{"upstream.invalid": "me:" + upstreamPass, m.host: "cache:" + mirrorPass})
	c, err := registry.New(registry.Config{HostsDir: dir, DockerConfig: both})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, c, ref); err != nil {
		t.Fatalf("through the mirror with its credentials: %v", err)
	}
	if m.sawAny(base64.StdEncoding.EncodeToString([]byte("me:" + upstreamPass))) {
		t.Error("the mirror was sent the registry's credentials")
	}

	onlyUpstream := dockerConfig(map[string]string{"upstream.invalid": "me:" + upstreamPass})
	c, err = registry.New(registry.Config{HostsDir: dir, DockerConfig: onlyUpstream})
	if err != nil {
		t.Fatal(err)
	}
	if err := head(t, c, ref); err == nil {
		t.Error("the mirror served without credentials of its own")
	}
	if m.sawAny(base64.StdEncoding.EncodeToString([]byte("me:" + upstreamPass))) {
		t.Error("the mirror was sent the registry's credentials")
	}
}
