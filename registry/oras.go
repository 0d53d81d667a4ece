package registry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Repository returns an oras-go repository for repo (what notation-go reads
// signatures through), reaching the registry exactly as the cosign path
// does: the same hosts.toml routing, size caps and credentials. Deadlines
// come from the context of each call.
func (c *Client) Repository(repo name.Repository) (*remote.Repository, error) {
	rt, err := c.route(repo.RegistryStr())
	if err != nil {
		return nil, err
	}
	r, err := remote.NewRepository(repo.Name())
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	header.Set("User-Agent", c.cfg.UserAgent)
	r.Client = &auth.Client{
		Client: &http.Client{Transport: rt},
		Header: header,
		Cache:  auth.NewCache(),
		Credential: func(ctx context.Context, hostport string) (auth.Credential, error) {
			return c.orasCredential(ctx, repo, hostport)
		},
	}
	// With a hosts.toml the router picks the scheme; without one, plain HTTP
	// for the same local registries go-containerregistry treats that way.
	c.mu.Lock()
	routed := c.routed[repo.RegistryStr()]
	c.mu.Unlock()
	r.PlainHTTP = !routed && repo.Registry.Scheme() == "http"
	return r, nil
}

// orasCredential is the credential for repo, when oras asks for its
// registry; for any other host, the registry's. Per repository, as
// credentials may be (a docker config entry or a provider's matchImages
// with a path).
func (c *Client) orasCredential(ctx context.Context, repo name.Repository, hostport string) (auth.Credential, error) {
	var target authn.Resource = repo
	if hostport != repo.RegistryStr() {
		reg, err := name.NewRegistry(hostport)
		if err != nil {
			return auth.EmptyCredential, err
		}
		target = reg
	}
	a, source, err := c.creds.resolve(ctx, target)
	if err != nil {
		return auth.EmptyCredential, fmt.Errorf("registry %s: %w", hostport, err)
	}
	c.creds.remember(repo.String(), source)
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return auth.EmptyCredential, err
	}
	return auth.Credential{Username: cfg.Username, Password: cfg.Password, RefreshToken: cfg.IdentityToken, AccessToken: cfg.RegistryToken}, nil
}
