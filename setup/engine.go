package setup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/registry/credprovider"
	"github.com/signgate/signgate/verify"
)

// RegistryConfig is the registry client's configuration.
func (c *Config) RegistryConfig() registry.Config {
	r := c.Registry
	return registry.Config{HostsDir: r.HostsDir, DockerConfig: r.DockerConfig,
		MaxManifestBytes: r.MaxManifestBytes, MaxBlobBytes: r.MaxBlobBytes, MaxReferrersBytes: r.MaxReferrersBytes,
		CredentialProviders: credprovider.Settings{Config: absPath(r.CredentialProviders.Config), BinDir: absPath(r.CredentialProviders.BinDir),
			ExecTimeout: r.CredentialProviders.ExecTimeout, ServiceAccountTokens: credprovider.TokenMode(r.CredentialProviders.ServiceAccountTokens),
			Log: c.Log},
		PodPullSecrets: r.PodPullSecrets.Enabled}
}

// absPath is p made absolute against the working directory: config
// resolves paths against the config file's directory, which is relative
// when --config is. A plugin must be run by an absolute path, never one
// exec would look up in $PATH. On error p is kept, for the caller to
// refuse.
func absPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// EngineOptions are the engine's options; observe, if set, hears of every
// verification run.
func (c *Config) EngineOptions(observe func(*verify.Verdict)) verify.Options {
	return verify.Options{VerifyTimeout: c.Registry.VerifyTimeout, AllowTTL: c.Cache.AllowTTL, DenyTTL: c.Cache.DenyTTL,
		MaxCached: c.Cache.MaxEntries, MaxSignatures: c.Registry.MaxSignatures, Observe: observe}
}

// Snapshot loads the static keys and builds the engine snapshot for this
// config, with the trusted versions of KMS keys given by the syncer.
func (c *Config) Snapshot(ctx context.Context, kmsKeys ...*keystore.Key) (*verify.Snapshot, error) {
	store, err := keystore.Load(ctx, c.Keys, keystore.Loaded(kmsKeys))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	certs := make([]*keystore.Cert, 0, len(c.Certs))
	for _, sc := range c.Certs {
		cert, err := sc.Load(time.Now())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
		certs = append(certs, cert)
	}
	if store, err = store.WithCerts(certs...); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	signers := make(map[string]*verify.Signer, len(c.Identities))
	roots := ""
	for _, id := range c.Identities {
		if tr := c.TrustRoots[id.TrustRoot]; tr == nil || tr.Material == nil {
			continue // not fetched yet: the identity verifies nothing
		}
		sg, err := verify.NewSigner(id, c.TrustRoots[id.TrustRoot])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Path, err)
		}
		signers[id.Name] = sg
		roots += id.Name + "=" + sg.Root.Digest + ";"
	}
	for _, n := range sortedKeys(c.TrustRoots) {
		roots += n + "=" + c.TrustRoots[n].Digest + ";"
	}
	sum := sha256.Sum256([]byte(c.Digest + "|" + store.Fingerprint() + "|" + roots))
	return &verify.Snapshot{ID: hex.EncodeToString(sum[:8]), Policies: c.Policies, Keys: store, Signers: signers, TrustRoots: c.TrustRoots, Config: c.Digest, Plugins: c.NotationPlugins}, nil
}

// Engine builds the keystore snapshot (static keys, certificates, and the
// KMS versions the syncer trusts now), the registry client and the engine.
// observe, if set, hears of every verification run.
func Engine(cfg *Config, syncer *keysync.Syncer, observe func(*verify.Verdict)) (*verify.Engine, *registry.Client, error) {
	snap, err := cfg.Snapshot(context.Background(), syncer.Keys()...)
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New(cfg.RegistryConfig())
	if err != nil {
		return nil, nil, err
	}
	return verify.NewEngine(snap, reg, cfg.EngineOptions(observe)), reg, nil
}

// Gate is what a command decides with: the compiled config, and an engine
// over the keys the daemon would trust.
type Gate struct {
	Config   *Config
	Engine   *verify.Engine
	Registry *registry.Client
	Keys     KeyStart // how the KMS keys were started
	syncer   *keysync.Syncer
}

// Close stops the gate's KMS providers.
func (g *Gate) Close() { g.syncer.Close() }

// Open builds, in this process, the gate the daemon would run under the
// config at path. KMS keys are as the daemon would have them: its
// last-known-good state (read, never written, from here), then synced now
// as the daemon syncs.
func Open(path string) (*Gate, error) {
	cfg, err := Load(path)
	if err != nil {
		return nil, err
	}
	return open(cfg)
}

// OpenComposed is Open on the config at path with the policy artifact body
// (named what) in place of its policy: to preview a policy before it is
// signed and published.
func OpenComposed(path string, body []byte, what string) (*Gate, error) {
	cc, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Compose(cc, body, what)
	if err != nil {
		return nil, err
	}
	return open(cfg)
}

func open(cfg *Config) (*Gate, error) {
	syncer, err := Syncer(cfg, nil, true)
	if err != nil {
		return nil, err
	}
	ks := StartKeys(cfg, syncer, false)
	engine, reg, err := Engine(cfg, syncer, nil)
	if err != nil {
		syncer.Close()
		return nil, err
	}
	return &Gate{Config: cfg, Engine: engine, Registry: reg, Keys: ks, syncer: syncer}, nil
}
