package registry

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry/credprovider"
)

// credentials are signgate's credential sources, tried in order: the
// docker config.json signgate's config names, then the kubelet's
// credential providers. The first with a credential for the image gives
// it; none, and the image is read anonymously.
type credentials struct {
	docker    *dockerConfigKeychain   // nil for none
	providers *credprovider.Providers // nil for none
	pods      bool                    // pods' pull secrets are a source

	mu   sync.Mutex
	last map[string]string // by repository: the source its last resolution used, for errors
}

func loadCredentials(cfg Config) (*credentials, error) {
	c := &credentials{last: map[string]string{}, pods: cfg.PodPullSecrets}
	if cfg.DockerConfig != "" {
		kc, err := loadKeychain(cfg.DockerConfig)
		if err != nil {
			return nil, err
		}
		c.docker = kc
	}
	ps, err := credprovider.Load(cfg.CredentialProviders)
	if err != nil {
		return nil, err
	}
	c.providers = ps
	return c, nil
}

// Resolve makes credentials an authn.Keychain.
func (c *credentials) Resolve(target authn.Resource) (authn.Authenticator, error) {
	return c.ResolveContext(context.Background(), target)
}

// ResolveContext makes credentials an authn.ContextKeychain.
func (c *credentials) ResolveContext(ctx context.Context, target authn.Resource) (authn.Authenticator, error) {
	a, _, err := c.resolve(ctx, target)
	return a, err
}

// resolve returns target's authenticator and the source it came from, or
// Anonymous and the sources tried. An error (a provider failed, and no
// other source had a credential) names the source.
func (c *credentials) resolve(ctx context.Context, target authn.Resource) (authn.Authenticator, string, error) {
	var tried []string
	// The pod's own pull secrets first, as the kubelet tries them.
	if pc := podCredentialsFrom(ctx); pc != nil {
		if repo, ok := target.(name.Repository); ok {
			if a, source, ok := pc.Credential(repo); ok {
				return a, source, nil
			}
			tried = append(tried, pc.None(repo))
		}
	} else if c.pods {
		// A read for no pod (the pull-time pre-verification), whose
		// verdict pods with no secret for the registry share.
		tried = append(tried, "no pod pull secret for "+target.RegistryStr())
	}
	if c.docker != nil {
		a, err := c.docker.ResolveContext(ctx, target)
		if err != nil {
			return nil, "", err
		}
		if a != authn.Anonymous {
			return a, "docker_config " + c.docker.path, nil
		}
		tried = append(tried, "docker_config "+c.docker.path+" has none")
	}
	if c.providers != nil {
		image := kubeletImage(target)
		cred, from, ok, err := c.providers.Lookup(ctx, image)
		switch {
		case ok:
			return authn.FromConfig(authn.AuthConfig{Username: cred.Username, Password: cred.Password}), fmt.Sprintf("kubelet credential provider %q", from), nil
		case err != nil:
			return nil, "", err
		}
		if m := c.providers.Matching(image); len(m) > 0 {
			tried = append(tried, fmt.Sprintf("kubelet credential provider %q gave none for %s", strings.Join(m, `", "`), image))
		} else {
			tried = append(tried, "no kubelet credential provider matches "+image)
		}
	}
	if len(tried) == 0 {
		return authn.Anonymous, "none (anonymous: no credential source is configured)", nil
	}
	return authn.Anonymous, "none (anonymous: " + strings.Join(tried, "; ") + ")", nil
}

// kubeletImage is target as the kubelet names an image to its providers:
// the repository, without tag or digest, Docker Hub as docker.io.
func kubeletImage(target authn.Resource) string {
	reg := target.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	if r, ok := target.(name.Repository); ok {
		return reg + "/" + r.RepositoryStr()
	}
	return reg
}

// remember notes the source repo's credentials came from.
func (c *credentials) remember(repo, source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.last) >= 1024 {
		c.last = map[string]string{}
	}
	c.last[repo] = source
}

// source is the source repo's credentials last came from, if known.
func (c *credentials) source(repo string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last[repo]
}

// dockerConfigKeychain resolves credentials from one docker config.json file,
// named in signgate's config, and the credential helpers that file names. It
// never falls back to the daemon user's ~/.docker.
type dockerConfigKeychain struct {
	path string
	cf   *configfile.ConfigFile
}

func loadKeychain(path string) (*dockerConfigKeychain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("registry docker_config: %w", err)
	}
	defer f.Close()
	cf, err := config.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("registry docker_config %s: %w", path, err)
	}
	cf.Filename = path
	return &dockerConfigKeychain{path: path, cf: cf}, nil
}

func (k *dockerConfigKeychain) ResolveContext(_ context.Context, target authn.Resource) (authn.Authenticator, error) {
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		cfg, err := k.cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s from %s: %w", key, k.path, err)
		}
		if cfg.Username != "" || cfg.Password != "" || cfg.Auth != "" || cfg.IdentityToken != "" || cfg.RegistryToken != "" {
			return authn.FromConfig(authn.AuthConfig{
				Username:      cfg.Username,
				Password:      cfg.Password,
				Auth:          cfg.Auth,
				IdentityToken: cfg.IdentityToken,
				RegistryToken: cfg.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}
