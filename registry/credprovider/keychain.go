// Package credprovider runs the kubelet's image credential provider
// plugins (credentialprovider.kubelet.k8s.io/v1) for signgate, so that it
// reads signatures with the credentials the node pulls images with: the
// same CredentialProviderConfig file and bin dir as the kubelet, matched,
// run and cached as the kubelet does. Only the plugins that file names, in
// the bin dir signgate's config names, ever run.
package credprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/signgate/signgate/config"
)

// TokenMode is what signgate does with a provider in service-account token
// mode (tokenAttributes).
type TokenMode string

const (
	// TokensRefuse refuses the config: signgate cannot act as the pod.
	TokensRefuse TokenMode = "refuse"
	// TokensWithout runs such a provider without a token, as the kubelet
	// does for a pod without a service account, where the provider allows
	// it (requireServiceAccount: false), and skips it where it does not.
	TokensWithout TokenMode = "without"
)

// DefaultExecTimeout bounds one plugin run.
const DefaultExecTimeout = config.DefaultCredentialExecTimeout

// Settings name the kubelet's provider config and bin dir, as its
// --image-credential-provider-config and --image-credential-provider-bin-dir.
type Settings struct {
	Config string // "" for none
	BinDir string
	// ExecTimeout bounds one plugin run; a verification waits for it no
	// longer than its own deadline, and the run goes on to fill the cache
	// for the next attempt.
	ExecTimeout          time.Duration
	ServiceAccountTokens TokenMode // "" is TokensRefuse
	// Log, if set, gets a failing plugin's stderr at debug level; errors
	// never quote it (they reach the CRI denial message tenants read).
	Log *slog.Logger
}

// Providers are the kubelet's credential providers, ready to run.
type Providers struct {
	list    []*provider
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger // nil: plugins' stderr is dropped

	mu       sync.Mutex
	caches   map[string]*cache // by provider
	inflight map[string]*call  // by provider and image
}

// call is one plugin run that concurrent lookups share.
type call struct {
	done chan struct{}
	ring *keyring
	err  error
}

// Load reads s.Config and checks every provider it names, as the kubelet
// does when it starts (the binaries must exist). It returns nil, nil when
// s names no config.
func Load(s Settings) (*Providers, error) {
	if s.Config == "" {
		if s.BinDir != "" {
			return nil, errors.New("registry.credential_providers.bin_dir is set without config")
		}
		return nil, nil
	}
	if s.BinDir == "" {
		return nil, fmt.Errorf("registry.credential_providers.bin_dir: required with config (the kubelet's --image-credential-provider-bin-dir)")
	}
	// A relative bin dir can leave a plugin a bare name, which exec would
	// look up in $PATH; and both would depend on signgate's working
	// directory. config resolves them against the config file's directory:
	// setup makes that absolute.
	if !filepath.IsAbs(s.Config) {
		return nil, fmt.Errorf("registry.credential_providers.config = %q: must be an absolute path", s.Config)
	}
	if !filepath.IsAbs(s.BinDir) {
		return nil, fmt.Errorf("registry.credential_providers.bin_dir = %q: must be an absolute path", s.BinDir)
	}
	switch s.ServiceAccountTokens {
	case "":
		s.ServiceAccountTokens = TokensRefuse
	case TokensRefuse, TokensWithout:
	default:
		return nil, fmt.Errorf("registry.credential_providers.service_account_tokens = %q: want \"refuse\" or \"without\"", s.ServiceAccountTokens)
	}
	if s.ExecTimeout < 0 {
		return nil, fmt.Errorf("registry.credential_providers.exec_timeout = %s: must be positive", s.ExecTimeout)
	}
	if s.ExecTimeout == 0 {
		s.ExecTimeout = DefaultExecTimeout
	}
	list, err := readConfig(s.Config, s.BinDir, s.ServiceAccountTokens)
	if err != nil {
		return nil, fmt.Errorf("registry.credential_providers.config: %w", err)
	}
	return &Providers{list: list, timeout: s.ExecTimeout, now: time.Now, log: s.Log, caches: map[string]*cache{}, inflight: map[string]*call{}}, nil
}

// Names are the providers that may run, in the config's order.
func (ps *Providers) Names() []string {
	var out []string
	for _, p := range ps.list {
		out = append(out, p.name)
	}
	return out
}

// Matching names the providers whose matchImages match image.
func (ps *Providers) Matching(image string) []string {
	var out []string
	for _, p := range ps.list {
		if matchesAny(p.matchImages, image) {
			out = append(out, p.name)
		}
	}
	return out
}

// Lookup finds image's credential: from the first provider, in the
// config's order, that matches image and whose answer has an entry for
// it. image is as the kubelet gives it, the repository without tag or
// digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/app or
// docker.io/library/nginx. found is false when no provider has one; an
// error, naming the provider, when a matching one failed and none other
// had a credential.
func (ps *Providers) Lookup(ctx context.Context, image string) (cred Credential, from string, found bool, err error) {
	var errs []error
	for _, p := range ps.list {
		if !matchesAny(p.matchImages, image) {
			continue
		}
		ring, err := ps.answer(ctx, p, image)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c, ok := ring.lookup(image); ok {
			return c, p.name, true, nil
		}
	}
	return Credential{}, "", false, errors.Join(errs...)
}

// answer is p's answer for image: cached, or from a run that concurrent
// lookups share. The run has its own timeout, not the caller's deadline:
// a caller that gives up leaves it to finish and fill the cache, so the
// runtime's retry of a denied container finds the credential.
func (ps *Providers) answer(ctx context.Context, p *provider, image string) (*keyring, error) {
	ps.mu.Lock()
	c := ps.caches[p.name]
	if c == nil {
		c = &cache{}
		ps.caches[p.name] = c
	}
	ps.mu.Unlock()
	if ring, ok := c.get(image, ps.now()); ok {
		return ring, nil
	}
	key := p.name + "\x00" + image
	ps.mu.Lock()
	cl, ok := ps.inflight[key]
	if !ok {
		cl = &call{done: make(chan struct{})}
		ps.inflight[key] = cl
		go func() {
			resp, err := p.run(context.WithoutCancel(ctx), image, ps.timeout, ps.log)
			if err == nil {
				cl.ring = newKeyring(resp.Auth)
				c.put(image, resp, cl.ring, p.defaultCache, ps.now())
			}
			cl.err = err
			ps.mu.Lock()
			delete(ps.inflight, key)
			ps.mu.Unlock()
			close(cl.done)
		}()
	}
	ps.mu.Unlock()
	select {
	case <-cl.done:
		return cl.ring, cl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("credential provider %s for %s: still running at the verification's deadline: %w", p.name, image, ctx.Err())
	}
}
