package registry

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// mirrorAuth authenticates requests to hosts.toml mirrors with the
// mirror's own credentials, from the same sources as a registry's (a
// docker config entry for the mirror's host, a provider whose matchImages
// match it): a pull-through cache that wants credentials is usable, and
// the registry's credentials still never reach it. A mirror no source
// has credentials for is read anonymously, as before.
type mirrorAuth struct {
	creds *credentials

	mu sync.Mutex
	m  map[string]mirrorSession // by mirror host and repository
}

// mirrorSession is go-containerregistry's transport for one mirror and
// repository: it answered the mirror's challenge (basic, or a token for
// the repository) and refreshes a token the mirror rejects.
type mirrorSession struct {
	rt http.RoundTripper
	at time.Time
}

// transport is what to send a request for repo (already routed to ep, a
// mirror) through; nil when no source has credentials for the mirror.
// repo "" is the ping, answered with a registry-wide token so that the
// mirror's challenge stays below signgate's own handshake.
func (a *mirrorAuth) transport(ctx context.Context, ep endpoint, repo string) (http.RoundTripper, error) {
	if a == nil || a.creds == nil {
		return nil, nil
	}
	key := ep.url.Host + "/" + repo
	a.mu.Lock()
	s, ok := a.m[key]
	a.mu.Unlock()
	if ok && time.Since(s.at) < handshakeTTL {
		return s.rt, nil
	}
	var opts []name.Option
	if ep.url.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(ep.url.Host, opts...)
	if err != nil {
		return nil, nil // not a name the sources could know
	}
	var (
		target authn.Resource = reg
		scopes []string
	)
	if repo != "" {
		r, err := name.NewRepository(ep.url.Host+"/"+repo, opts...)
		if err != nil {
			return nil, nil
		}
		target, scopes = r, []string{r.Scope(transport.PullScope)}
	}
	// A mirror's credentials are the node's: a pod's pull secrets name
	// the registry it pulls from, and its session here is shared.
	auth, _, err := a.creds.resolve(context.WithValue(ctx, podCredentialsKey{}, nil), target)
	if err != nil || auth == authn.Anonymous {
		return nil, err
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, ep.transport, scopes)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.m == nil || len(a.m) >= 256 {
		a.m = map[string]mirrorSession{}
	}
	a.m[key] = mirrorSession{rt: rt, at: time.Now()}
	a.mu.Unlock()
	return rt, nil
}

// repoOf is the repository a registry API path names: /v2/<repo>/manifests/...,
// /blobs/, /referrers/ or /tags/; "" for the ping and anything else.
func repoOf(path string) string {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return ""
	}
	for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/"} {
		if i := strings.LastIndex(p, kind); i > 0 {
			return p[:i]
		}
	}
	return ""
}
