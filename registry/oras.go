package registry

import (
	"context"
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
		Client:     &http.Client{Transport: rt},
		Header:     header,
		Cache:      auth.NewCache(),
		Credential: c.orasCredential,
	}
	// With a hosts.toml the router picks the scheme; without one, plain HTTP
	// for the same local registries go-containerregistry treats that way.
	c.mu.Lock()
	routed := c.routed[repo.RegistryStr()]
	c.mu.Unlock()
	r.PlainHTTP = !routed && repo.Registry.Scheme() == "http"
	return r, nil
}

func (c *Client) orasCredential(ctx context.Context, hostport string) (auth.Credential, error) {
	reg, err := name.NewRegistry(hostport)
	if err != nil {
		return auth.EmptyCredential, err
	}
	a, err := authn.Resolve(ctx, c.keychain, reg)
	if err != nil {
		return auth.EmptyCredential, err
	}
	cfg, err := authn.Authorization(ctx, a)
	if err != nil {
		return auth.EmptyCredential, err
	}
	return auth.Credential{Username: cfg.Username, Password: cfg.Password, RefreshToken: cfg.IdentityToken, AccessToken: cfg.RegistryToken}, nil
}
