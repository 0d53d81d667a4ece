package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// MaxRedirects bounds the redirects one registry request may follow.
// go-containerregistry follows same-host redirects without limit, so a
// registry redirecting to itself kept one verification looping until its
// timeout.
const MaxRedirects = 5

// ErrRedirects is the family of refused redirects: too many, or from HTTPS
// down to plain HTTP.
var ErrRedirects = errors.New("registry redirects refused")

// RedirectError names the chain of a refused redirect.
type RedirectError struct {
	Registry string
	Chain    []string // the URLs visited, redacted, in order
	Why      string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("registry %s: %s: %s", e.Registry, e.Why, strings.Join(e.Chain, " -> "))
}

// Unwrap makes errors.Is(err, ErrRedirects) true.
func (e *RedirectError) Unwrap() error { return ErrRedirects }

// ErrPlainHTTP is returned for a plain-HTTP request to a registry that
// hosts.toml does not say speaks plain HTTP (loopback excepted: it crosses
// no network). go-containerregistry otherwise falls back from HTTPS to HTTP
// for private addresses without a word.
var ErrPlainHTTP = errors.New("plain HTTP is not allowed to this registry; set server = \"http://...\" in its hosts.toml if it is meant")

// guardTransport keeps one registry's requests honest: redirects bounded,
// credentials only to the registry itself (or to the token service its own
// challenge names, over HTTPS or to loopback), and no plain HTTP that
// hosts.toml did not ask for.
type guardTransport struct {
	registry string // as requests name it (before hosts.toml routing)
	routed   bool   // hosts.toml picks endpoints and schemes
	mirrors  map[string]bool
	next     http.RoundTripper

	mu     sync.Mutex
	realms map[string]bool // token service hosts the registry's own challenges named

	// Referrers listings are read into memory under these caps: one
	// listing's (all its pages), and all listings' in flight at once.
	maxListing int64
	listings   *budget
}

func newGuard(registry string, eps []endpoint, next http.RoundTripper) *guardTransport {
	g := &guardTransport{registry: registry, routed: len(eps) > 0, mirrors: map[string]bool{}, next: next, realms: map[string]bool{}}
	for i, ep := range eps {
		if i < len(eps)-1 { // the last endpoint is the server itself
			g.mirrors[ep.url.Host] = true
		}
	}
	return g
}

func (g *guardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	chain := []string{errorURL(req.URL)}
	for r := req; r.Response != nil && r.Response.Request != nil; r = r.Response.Request {
		chain = append([]string{errorURL(r.Response.Request.URL)}, chain...)
	}
	if hops := len(chain) - 1; hops > MaxRedirects {
		return nil, &RedirectError{Registry: g.registry, Chain: chain, Why: fmt.Sprintf("more than %d redirects", MaxRedirects)}
	}
	if hops := len(chain) - 1; hops > 0 && req.URL.Scheme == "http" && strings.HasPrefix(chain[0], "https:") {
		return nil, &RedirectError{Registry: g.registry, Chain: chain, Why: "a redirect from HTTPS to plain HTTP"}
	}
	if req.URL.Scheme == "http" && !g.routed && !isLoopback(req.URL.Host) {
		return nil, fmt.Errorf("registry %s: %s: %w", g.registry, errorURL(req.URL), ErrPlainHTTP)
	}
	if req.Header.Get("Authorization") != "" && !g.mayAuthenticate(req) {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && req.URL.Host == g.registry && req.Response == nil {
		g.learnRealm(resp)
	}
	if isReferrersRequest(req) && resp.StatusCode == http.StatusOK {
		return readListing(req, resp, g.next, g.listings, g.maxListing)
	}
	return resp, nil
}

// mayAuthenticate: credentials go to the registry itself, or to a token
// service its own challenge named; never to a host a redirect or a mirror
// chose, and never in the clear beyond loopback unless hosts.toml routes
// the registry (and so chose its scheme).
func (g *guardTransport) mayAuthenticate(req *http.Request) bool {
	if req.URL.Scheme == "http" && !g.routed && !isLoopback(req.URL.Host) {
		return false
	}
	if req.Response != nil && req.URL.Host != req.Response.Request.URL.Host {
		return false // a redirect to another host
	}
	if req.URL.Host == g.registry {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.realms[req.URL.Host]
}

// learnRealm notes the token service a 401 from the registry itself (not
// from a mirror hosts.toml put in front of it) names.
func (g *guardTransport) learnRealm(resp *http.Response) {
	if resp.Request != nil && g.mirrors[resp.Request.URL.Host] {
		return
	}
	for _, h := range resp.Header.Values("WWW-Authenticate") {
		i := strings.Index(strings.ToLower(h), "realm=\"")
		if i < 0 {
			continue
		}
		rest := h[i+len("realm=\""):]
		realm, _, _ := strings.Cut(rest, "\"")
		u, err := url.Parse(realm)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !isLoopback(u.Host)) {
			continue
		}
		g.mu.Lock()
		g.realms[u.Host] = true
		g.mu.Unlock()
	}
}

func isLoopback(hostport string) bool {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
