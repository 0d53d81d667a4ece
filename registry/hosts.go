package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// endpoint is one place to send a registry's requests, from containerd's
// hosts.toml: a mirror ([host."..."]) or the upstream server.
type endpoint struct {
	url          *url.URL
	overridePath bool
	header       http.Header
	transport    http.RoundTripper
}

// hostsFile is the part of containerd's hosts.toml signgate honours.
// https://github.com/containerd/containerd/blob/main/docs/hosts.md
type hostsFile struct {
	Server string `toml:"server"`
	hostsFileEP
	Host map[string]hostsFileEP `toml:"host"`
}

// hostsFileEP is one endpoint's settings, at the top level (the server) or
// under [host."..."] (a mirror).
type hostsFileEP struct {
	Capabilities []string       `toml:"capabilities"`
	CA           any            `toml:"ca"`
	SkipVerify   bool           `toml:"skip_verify"`
	OverridePath bool           `toml:"override_path"`
	Header       map[string]any `toml:"header"`
	Client       any            `toml:"client"`
}

// loadHosts reads the registry's hosts.toml in dir (hostDir finds its
// directory, or _default, as containerd does; a directory without one is
// read in Docker's certs.d layout) and returns the endpoints to try in
// order, as containerd would: mirrors with the pull capability first, then
// the server. It returns nil, nil when nothing applies, meaning "talk to
// the registry directly".
func loadHosts(dir, registry string, base *http.Transport) ([]endpoint, error) {
	if dir == "" {
		return nil, nil
	}
	hd, err := hostDir(dir, registry)
	if err != nil || hd == "" {
		return nil, err
	}
	path := filepath.Join(hd, "hosts.toml")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return dockerCertsHosts(hd, registry, base)
	}
	var hf hostsFile
	if _, err := toml.DecodeFile(path, &hf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var eps []endpoint
	// Mirrors in file order. BurntSushi's map loses order, so read it from the
	// file's key order via a second decode with MetaData.
	order, err := hostOrder(path)
	if err != nil {
		return nil, err
	}
	for _, h := range order {
		ep := hf.Host[h]
		if len(ep.Capabilities) > 0 && !contains(ep.Capabilities, "pull") {
			continue
		}
		e, err := newEndpoint(path, h, ep, base)
		if err != nil {
			return nil, err
		}
		eps = append(eps, e)
	}
	server := hf.Server
	if server == "" {
		server = "https://" + registry
		if registry == "docker.io" {
			server = "https://registry-1.docker.io"
		}
	}
	e, err := newEndpoint(path, server, hf.hostsFileEP, base)
	if err != nil {
		return nil, err
	}
	return append(eps, e), nil
}

func hostDirName(registry string) string {
	if registry == "index.docker.io" {
		return "docker.io"
	}
	return registry
}

func hostOrder(path string) ([]string, error) {
	var raw map[string]any
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var order []string
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		if len(k) >= 2 && k[0] == "host" && !seen[k[1]] {
			seen[k[1]] = true
			order = append(order, k[1])
		}
	}
	return order, nil
}

func newEndpoint(file, raw string, ep hostsFileEP, base *http.Transport) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return endpoint{}, fmt.Errorf("%s: %q is not an http(s) URL", file, raw)
	}
	t := base.Clone()
	if u.Scheme == "https" && (ep.SkipVerify || ep.CA != nil || ep.Client != nil) {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		}
		cfg.InsecureSkipVerify = ep.SkipVerify //nolint:gosec // the operator asked for it in hosts.toml, as for containerd
		if ep.CA != nil {
			pool, err := loadCAs(file, ep.CA)
			if err != nil {
				return endpoint{}, err
			}
			cfg.RootCAs = pool
		}
		if ep.Client != nil {
			certs, err := loadClientCerts(file, raw, ep.Client)
			if err != nil {
				return endpoint{}, err
			}
			cfg.Certificates = certs
		}
		t.TLSClientConfig = cfg
	}
	h := http.Header{}
	for k, v := range ep.Header {
		switch vv := v.(type) {
		case string:
			h.Add(k, vv)
		case []any:
			for _, x := range vv {
				h.Add(k, fmt.Sprint(x))
			}
		}
	}
	return endpoint{url: u, overridePath: ep.OverridePath, header: h, transport: t}, nil
}

func loadCAs(file string, ca any) (*x509.CertPool, error) {
	var paths []string
	switch v := ca.(type) {
	case string:
		paths = []string{v}
	case []any:
		for _, p := range v {
			paths = append(paths, fmt.Sprint(p))
		}
	default:
		return nil, fmt.Errorf("%s: ca must be a path or a list of paths", file)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		pem, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: ca: %w", file, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: ca %s: no certificates found", file, p)
		}
	}
	return pool, nil
}

// routeTransport sends requests for one registry to its endpoints in order,
// moving to the next only when an endpoint cannot be reached.
type routeTransport struct {
	registry  string
	endpoints []endpoint
	fallback  http.RoundTripper
	mirrors   *mirrorAuth // nil: mirrors are read anonymously
}

func (rt *routeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != rt.registry || len(rt.endpoints) == 0 {
		return rt.fallback.RoundTrip(req) // e.g. a token server
	}
	var errs []error
	for _, ep := range rt.endpoints {
		r := req.Clone(req.Context())
		r.URL.Scheme = ep.url.Scheme
		r.URL.Host = ep.url.Host
		r.Host = ep.url.Host
		if ep.overridePath {
			r.URL.Path = strings.TrimSuffix(ep.url.Path, "/") + strings.TrimPrefix(req.URL.Path, "/v2")
		}
		for k, v := range ep.header {
			r.Header[k] = v
		}
		next := ep.transport
		if ep.url.Host != rt.server() {
			// A mirror is another party: the registry's credentials are
			// not its to see. Its own, if a source has them, are.
			r.Header.Del("Authorization")
			mt, err := rt.mirrors.transport(req.Context(), ep, repoOf(req.URL.Path))
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: credentials: %w", errorURL(ep.url), err))
				continue
			}
			if mt != nil {
				next = mt
			}
		}
		resp, err := next.RoundTrip(r)
		if err == nil {
			return resp, nil
		}
		// Name the URL actually used: hosts.toml may have changed the host
		// and the scheme the caller's URL names.
		errs = append(errs, fmt.Errorf("%s: %w", errorURL(r.URL), err))
		if req.Context().Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// server is the host of the registry's own endpoint (the last).
func (rt *routeTransport) server() string { return rt.endpoints[len(rt.endpoints)-1].url.Host }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
