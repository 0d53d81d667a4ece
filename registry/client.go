// Package registry gives signgate's verifiers their view of OCI registries:
// the same mirrors, CAs, client certificates and plain-HTTP settings as the
// node's containerd (hosts.toml), credentials from a docker config file
// that signgate's config names and from the kubelet's credential provider
// plugins (for mirrors too, by their own host), every request bound to the
// caller's deadline and to a registry's Retry-After, and caps on response
// sizes so a hostile registry cannot exhaust the daemon's memory.
package registry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry/credprovider"
)

// Config says how to reach registries.
type Config struct {
	HostsDir     string // containerd's certs.d directory; "" for none
	DockerConfig string // a docker config.json for credentials; "" for none
	// CredentialProviders names the kubelet's credential provider plugins,
	// the credential source after DockerConfig.
	CredentialProviders credprovider.Settings
	// PodPullSecrets: pods' own pull secrets come with their
	// verifications (WithPodCredentials); a read without them says so.
	PodPullSecrets   bool
	MaxManifestBytes int64 // largest manifest or index accepted
	MaxBlobBytes     int64 // largest blob (signature layer, bundle) accepted
	// MaxReferrersBytes is what the referrers listings of all
	// verifications in flight may hold between them (one listing, all its
	// pages, is held to MaxManifestBytes).
	MaxReferrersBytes int64
	UserAgent         string
	// Observe, if set, hears of every HTTP exchange with a registry
	// (token requests and redirect hops included) once its body is
	// closed: for the bench, which sets a verification's time beside the
	// registry's.
	Observe func(Exchange)
}

// Exchange is one HTTP request to a registry and how long it took, from
// sending it to closing its response body.
type Exchange struct {
	Method, URL string
	Status      int // 0 when no response came
	Took        time.Duration
}

// Defaults for the size caps, written once in config.
const (
	DefaultMaxManifestBytes = config.DefaultMaxManifestBytes
	DefaultMaxBlobBytes     = config.DefaultMaxBlobBytes
)

// Client builds remote options per repository.
type Client struct {
	cfg   Config
	creds *credentials
	base  *http.Transport

	mu     sync.Mutex
	routes map[string]http.RoundTripper // by registry host
	routed map[string]bool              // the registry has a hosts.toml

	handshakes handshakes
	listings   *budget // shared by every registry's referrers listings

	// The clock Retry-After is waited on; tests set their own.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

// New checks cfg and loads the credentials file.
func New(cfg Config) (*Client, error) {
	if cfg.MaxManifestBytes <= 0 {
		cfg.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if cfg.MaxBlobBytes <= 0 {
		cfg.MaxBlobBytes = DefaultMaxBlobBytes
	}
	if cfg.MaxReferrersBytes <= 0 {
		cfg.MaxReferrersBytes = DefaultMaxReferrersBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "signgate"
	}
	creds, err := loadCredentials(cfg)
	if err != nil {
		return nil, err
	}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}
	return &Client{cfg: cfg, creds: creds, base: base, routes: map[string]http.RoundTripper{}, routed: map[string]bool{}, listings: newBudget(cfg.MaxReferrersBytes), now: time.Now, after: time.After}, nil
}

// Options returns the go-containerregistry options for talking to repo under
// ctx. A fresh Puller per call shares one token exchange among the requests of
// a verification without caching a failure beyond it.
func (c *Client) Options(ctx context.Context, repo name.Repository) ([]remote.Option, error) {
	rt, err := c.route(repo.RegistryStr())
	if err != nil {
		return nil, err
	}
	// Credentials once per verification: a provider plugin runs at most
	// once here, and its failure is the verification's, named.
	auth, source, err := c.creds.resolve(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", repo.RegistryStr(), err)
	}
	c.creds.remember(sourceKey(ctx, repo), source)
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithTransport(rt),
		remote.WithAuth(auth),
		remote.WithUserAgent(c.cfg.UserAgent),
	}
	// The repository's handshake, kept from an earlier verification or
	// made now. One that fails is not kept, and go-containerregistry tries
	// it again, so the failure reads as it always did.
	shaken, ok := c.handshake(ctx, repo, rt, auth)
	if ok {
		opts = []remote.Option{remote.WithContext(ctx), remote.WithTransport(shaken)}
	}
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, err
	}
	return append(opts, remote.Reuse(p)), nil
}

func (c *Client) route(registry string) (http.RoundTripper, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rt, ok := c.routes[registry]; ok {
		return rt, nil
	}
	eps, err := loadHosts(c.cfg.HostsDir, registry, c.base)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", registry, err)
	}
	var rt http.RoundTripper = c.base
	server := ""
	if len(eps) > 0 {
		server = eps[len(eps)-1].url.Host
		rt = &routeTransport{registry: registry, endpoints: eps, fallback: c.base, mirrors: &mirrorAuth{creds: c.creds}}
		c.routed[registry] = true
	}
	rt = &retryAfterTransport{registry: registry, server: server, next: rt, now: c.now, after: c.after}
	rt = &capTransport{next: rt, manifest: c.cfg.MaxManifestBytes, blob: c.cfg.MaxBlobBytes}
	if c.cfg.Observe != nil {
		rt = &observed{next: rt, observe: c.cfg.Observe}
	}
	g := newGuard(registry, eps, rt)
	g.maxListing, g.listings = c.cfg.MaxManifestBytes, c.listings
	rt = &referrersMemo{next: g}
	c.routes[registry] = rt
	return rt, nil
}

// capTransport refuses responses larger than the caps, whether the registry
// announces the size or not.
type capTransport struct {
	next           http.RoundTripper
	manifest, blob int64
}

// ErrTooLarge is returned when a registry response exceeds a cap.
type ErrTooLarge struct {
	URL   string
	Limit int64
}

func (e *ErrTooLarge) Error() string {
	return fmt.Sprintf("registry response from %s exceeds the %d-byte limit", e.URL, e.Limit)
}

func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	limit := t.blob
	if strings.Contains(req.URL.Path, "/manifests/") || strings.Contains(req.URL.Path, "/referrers/") {
		limit = t.manifest
	}
	u := errorURL(req.URL)
	if resp.ContentLength > limit {
		resp.Body.Close()
		return nil, &ErrTooLarge{URL: u, Limit: limit}
	}
	resp.Body = &cappedBody{rc: resp.Body, left: limit, url: u, limit: limit}
	return resp, nil
}

type cappedBody struct {
	rc          io.ReadCloser
	left, limit int64
	url         string
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, &ErrTooLarge{URL: b.url, Limit: b.limit}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
