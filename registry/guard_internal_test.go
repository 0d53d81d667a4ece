package registry

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

type noCall struct{ called bool }

func (n *noCall) RoundTrip(*http.Request) (*http.Response, error) {
	n.called = true
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// Without a hosts.toml saying so, no plain HTTP leaves the node: the
// HTTPS-to-HTTP fallback go-containerregistry makes for private addresses
// is refused before anything is sent. Loopback stays allowed.
func TestNoSilentPlainHTTP(t *testing.T) {
	for _, c := range []struct {
		host    string
		routed  bool
		allowed bool
	}{
		{"10.1.2.3:5000", false, false},
		{"registry.local:5000", false, false},
		{"127.0.0.1:5000", false, true},
		{"localhost:5000", false, true},
		{"10.1.2.3:5000", true, true}, // hosts.toml routes it and chose the scheme
	} {
		next := &noCall{}
		var eps []endpoint
		if c.routed {
			eps = []endpoint{{}}
		}
		g := newGuard(c.host, eps, next)
		req, _ := http.NewRequest("GET", "http://"+c.host+"/v2/", nil)
		_, err := g.RoundTrip(req)
		if c.allowed != (err == nil) || c.allowed != next.called {
			t.Errorf("%s (routed %v): err %v, sent %v; want allowed=%v", c.host, c.routed, err, next.called, c.allowed)
		}
		if !c.allowed && !errors.Is(err, ErrPlainHTTP) {
			t.Errorf("%s: %v is not ErrPlainHTTP", c.host, err)
		}
	}
}

// challenger answers 401 with a bearer challenge naming realm, and notes
// the Authorization headers it is sent.
type challenger struct {
	realm string
	auth  map[string]string // host -> Authorization seen
}

func (c *challenger) RoundTrip(req *http.Request) (*http.Response, error) {
	c.auth[req.URL.Host] = req.Header.Get("Authorization")
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer realm="`+c.realm+`",service="reg"`)
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: h, Body: http.NoBody, Request: req}, nil
}

// A token service gets the registry's credentials only when the registry's
// own challenge named it over HTTPS: not when a mirror's did.
func TestTokenServiceMustBeNamedByTheRegistry(t *testing.T) {
	send := func(g *guardTransport, u string) {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Basic bm9kZTpzM2NyZXQ=")
		if _, err := g.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	own := &challenger{realm: "https://auth.example.com/token", auth: map[string]string{}}
	g := newGuard("reg.example.com", nil, own)
	send(g, "https://reg.example.com/v2/")
	send(g, "https://auth.example.com/token")
	if own.auth["auth.example.com"] == "" {
		t.Error("the token service the registry named was not sent its credentials")
	}

	// Routed through a mirror, whose challenge names another service.
	viaMirror := &challenger{realm: "https://evil.example.net/token", auth: map[string]string{}}
	eps := []endpoint{{url: mustURL("https://mirror.example.net")}, {url: mustURL("https://reg.example.com")}}
	g = newGuard("reg.example.com", eps, &rewrite{to: "mirror.example.net", next: viaMirror})
	send(g, "https://reg.example.com/v2/")
	send(g, "https://evil.example.net/token")
	if a := viaMirror.auth["evil.example.net"]; a != "" {
		t.Errorf("the token service a mirror named was sent %q", a)
	}

	// A challenge naming a plain-HTTP token service is not learned.
	plain := &challenger{realm: "http://auth.example.com/token", auth: map[string]string{}}
	g = newGuard("reg.example.com", nil, plain)
	send(g, "https://reg.example.com/v2/")
	if g.realms["auth.example.com"] {
		t.Error("a plain-HTTP token service was trusted")
	}
}

// rewrite stands for hosts.toml routing: the request goes to a mirror.
type rewrite struct {
	to   string
	next http.RoundTripper
}

func (r *rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	c := req.Clone(req.Context())
	if c.URL.Host == "reg.example.com" {
		c.URL.Host = r.to
	}
	return r.next.RoundTrip(c)
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// A redirect from HTTPS down to plain HTTP is refused before it is sent.
func TestNoRedirectDownToPlainHTTP(t *testing.T) {
	next := &noCall{}
	g := newGuard("reg.example.com", nil, next)
	first, _ := http.NewRequest("GET", "https://reg.example.com/v2/a/manifests/v1", nil)
	down, _ := http.NewRequest("GET", "http://cdn.example.net/blob", nil)
	down.Response = &http.Response{Request: first}
	_, err := g.RoundTrip(down)
	if !errors.Is(err, ErrRedirects) || next.called {
		t.Fatalf("HTTPS to HTTP redirect: %v (sent: %v)", err, next.called)
	}
	if !strings.Contains(err.Error(), "https://reg.example.com/v2/a/manifests/v1 -> http://cdn.example.net/blob") {
		t.Fatalf("the refusal does not name the chain: %v", err)
	}
}
