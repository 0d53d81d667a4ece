package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// tokenRegistry asks for a bearer token from its own token service, as
// most registries do, and counts pings and tokens issued.
type tokenRegistry struct {
	mu           sync.Mutex
	pings        int
	tokens       int
	valid        string // the token accepted now
	failNextPing bool
	next         http.Handler
	url          string
}

func (r *tokenRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	challenge := func() {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, r.url))
		w.WriteHeader(http.StatusUnauthorized)
	}
	switch {
	case req.URL.Path == "/token":
		r.tokens++
		r.valid = fmt.Sprintf("t%d", r.tokens)
		fmt.Fprintf(w, `{"token":%q}`, r.valid)
	case req.URL.Path == "/v2/":
		r.pings++
		if r.failNextPing {
			r.failNextPing = false
			http.Error(w, "flake", http.StatusInternalServerError)
			return
		}
		challenge()
	case req.Header.Get("Authorization") != "Bearer "+r.valid:
		challenge()
	default:
		r.next.ServeHTTP(w, req)
	}
}

func (r *tokenRegistry) counts() (pings, tokens int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pings, r.tokens
}

// A verification no longer begins with the registry's handshake: it is
// kept per repository, its token refreshed on the registry's challenge,
// and one that failed is not kept.
func TestHandshakeIsKept(t *testing.T) {
	inner, d := pushed(t, "app/h")
	host := strings.TrimPrefix(inner.URL, "http://")
	// The same content behind a token-checking front.
	u, _ := url.Parse(inner.URL)
	reg := &tokenRegistry{next: httputil.NewSingleHostReverseProxy(u)}
	front := httptest.NewServer(reg)
	defer front.Close()
	reg.url = front.URL
	img, _ := name.NewDigest(strings.TrimPrefix(front.URL, "http://") + "/app/h@" + d.DigestStr())

	c, _ := registry.New(registry.Config{})
	fetchFrom := func(img name.Digest) {
		t.Helper()
		if err := readConfig(c, img); err != nil {
			t.Fatal(err)
		}
	}
	fetch := func() { t.Helper(); fetchFrom(img) }
	fetch()
	fetch()
	fetch()
	// One ping: whether the registry wants credentials at all (it does)
	// and its challenge, which the token request follows.
	if p, tk := reg.counts(); p != 1 || tk != 1 {
		t.Fatalf("three verifications: %d pings and %d tokens; want one handshake", p, tk)
	}
	// The token expires: the registry challenges, and it is refreshed.
	reg.mu.Lock()
	reg.valid = "expired"
	reg.mu.Unlock()
	fetch()
	if p, tk := reg.counts(); p != 1 || tk != 2 {
		t.Fatalf("after expiry: %d pings and %d tokens; want the token refreshed without a ping", p, tk)
	}
	// Tokens are scoped to a repository: another has its own handshake,
	// which starts from the registry's challenge as it was kept.
	other, err := sigtest.PushImage(host + "/app/other:v1")
	if err != nil {
		t.Fatal(err)
	}
	otherImg, _ := name.NewDigest(strings.TrimPrefix(front.URL, "http://") + "/app/other@" + other.DigestStr())
	fetchFrom(otherImg)
	fetchFrom(otherImg)
	if p, tk := reg.counts(); p != 1 || tk != 3 {
		t.Fatalf("another repository: %d pings and %d tokens; want one token more, no ping", p, tk)
	}

	// A handshake that fails is not kept: the next verification makes its own.
	c, _ = registry.New(registry.Config{})
	reg.mu.Lock()
	reg.failNextPing = true
	reg.mu.Unlock()
	fetch() // signgate's handshake fails, go-containerregistry's succeeds
	fetch() // and this one makes, and keeps, its own
	fetch()
	if p, _ := reg.counts(); p != 1+3 {
		t.Fatalf("after a failed handshake: %d pings, want 3 more (the failed one, go-containerregistry's, the kept one)", p)
	}
}

// A registry that wants no credentials shares one handshake among its
// repositories, until it asks for credentials after all.
func TestOpenRegistrySharesItsHandshake(t *testing.T) {
	var mu sync.Mutex
	pings, locked := 0, false
	inner := quietRegistry()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.URL.Path == "/v2/" {
			pings++
		}
		l := locked
		mu.Unlock()
		if l {
			w.Header().Set("WWW-Authenticate", `Basic realm="now closed"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c, _ := registry.New(registry.Config{})
	fetch := func(repo string) error {
		d, err := sigtest.PushImage(host + "/" + repo + ":v1")
		if err != nil {
			return err
		}
		opts, err := c.Options(context.Background(), d.Context())
		if err != nil {
			return err
		}
		_, err = remote.Get(d, opts...)
		return err
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return pings }
	for i := 0; i < 5; i++ {
		if err := fetch(fmt.Sprintf("open/app%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if p := count(); p != 1+5 { // five pushes ping too; signgate once
		t.Fatalf("five repositories of an open registry: %d pings, want 6", p)
	}
	// It asks for credentials: what was kept is dropped, and the next
	// verification shakes hands anew.
	if err := fetch("open/before"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	locked = true
	mu.Unlock()
	d, _ := name.NewDigest(host + "/open/before@sha256:" + strings.Repeat("0", 64))
	opts, _ := c.Options(context.Background(), d.Context())
	if _, err := remote.Get(d, opts...); err == nil {
		t.Fatal("a registry that asks for credentials answered an anonymous client")
	}
	before := count()
	opts, _ = c.Options(context.Background(), d.Context())
	_, _ = remote.Get(d, opts...)
	if count() == before {
		t.Fatal("after a 401, the kept handshake was used again")
	}
}
