// Package config reads signgate's TOML configuration: pure data. It decodes
// strictly (an unknown key is an error that suggests the nearest known
// one), applies the defaults (defaults.go, the only place they are written)
// and checks the shape of values: durations, counts, ranges. An error names
// the file and the key path.
//
// It reads no key, certificate or trust root and imports no package of
// this project (deps_test.go keeps it so): turning a config into policies,
// keys, trust roots, a registry client and an engine is package setup's job.
package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Daemon settings, with defaults applied.
type Daemon struct {
	NRISocket           string
	PluginName          string
	PluginIndex         string
	ContainerdSocket    string
	ContainerdNamespace string
	DecisionDeadline    time.Duration
	StateDir            string
	Snapshotters        []string
	APISocket           string // where the image verifier asks; "" for none
	Preverify           bool   // verify images as containerd pulls them
	Annotate            bool   // allowed containers carry signgate.dev/ annotations
	PreverifyWorkers    int
	MetricsAddress      string // /metrics, /healthz, /readyz; "" for none
	// WatchConfig: how often to look for a changed config or key file and
	// reload; 0 for never (reload on SIGHUP only).
	WatchConfig time.Duration
	// AllowCheckpointRestore admits a container containerd restores from a
	// checkpoint image named by digest and itself allowed; false refuses
	// every restore.
	AllowCheckpointRestore bool
	// Prove: the enforcement probe's keys, as written (package prove
	// checks them).
	Prove ProveKeys
	// Runtime: which runtime's records signgate reads (runtime.go).
	Runtime Runtime
}

// Registry settings, with defaults applied.
type Registry struct {
	HostsDir      string
	DockerConfig  string
	VerifyTimeout time.Duration // bounds one verification
	// Size caps on what is read from a registry.
	MaxManifestBytes  int64
	MaxBlobBytes      int64
	MaxReferrersBytes int64
	// MaxSignatures caps the signature objects one listing may make a
	// verification fetch.
	MaxSignatures int
	// CredentialProviders: the kubelet's credential provider plugins.
	CredentialProviders CredentialProviders
	PodPullSecrets      PodPullSecrets // a pod's own pull secrets (podsecrets.go)
}

// Cache settings: how long verdicts are reused, with defaults applied.
type Cache struct {
	AllowTTL   time.Duration
	DenyTTL    time.Duration
	MaxEntries int
}

// KMS settings, with defaults applied.
type KMS struct {
	SyncInterval   time.Duration
	MaxStaleness   time.Duration // 0: no limit
	RequestTimeout time.Duration
	GracePeriod    time.Duration // for keys that set none
	// Providers holds each provider's connection settings by its section
	// under [kms]: "aws", "gcp", "azure", "vault". File paths are resolved
	// against the config's directory.
	Providers map[string]KMSProvider
}

// KMSProvider is one provider's connection settings.
type KMSProvider struct {
	Endpoint    string
	Region      string // AWS
	TokenFile   string // Vault
	TransitPath string // Vault
	CAFile      string
	Insecure    bool // GCP emulators
}

// Config is a decoded config, with defaults applied and the shape of its
// values checked.
type Config struct {
	Path string
	// Digest identifies the file's content, so verdicts can be bound to it.
	Digest string
	// File is the config as written, for what setup compiles (keys,
	// certificates, trust roots, identities, policies).
	File     File
	Daemon   Daemon
	Registry Registry
	Cache    Cache
	KMS      KMS
	Running  Running // each policy's on_untrusted_running (running.go)
	Hooks    Hooks   // [hooks]: what other plugins' hooks may run (hooks.go)
	// AddedMounts: what other plugins' mounts may bind (addedmounts.go).
	AddedMounts AddedMounts
	// PolicySource: where the policy comes from, signed (policysource.go);
	// nil when this file holds it.
	PolicySource *PolicySource
}

// Load reads path and checks it as Parse does.
func Load(path string) (*Config, error) { return checked(ReadFile(path)) }

// Parse decodes data, read from path (for messages and relative paths),
// and fails on any problem with its shape.
func Parse(path string, data []byte) (*Config, error) { return checked(Read(path, data)) }

func checked(c *Config, p *Problems, err error) (*Config, error) {
	if err != nil {
		return nil, err
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// ReadFile is Read on the file at path.
func ReadFile(path string) (*Config, *Problems, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	return Read(path, data)
}

// Read decodes data as Parse does, but returns the problems found in the
// values beside the config rather than failing on them: setup adds what it
// finds compiling the rest, so one message lists every mistake. err is a
// TOML syntax error or an unknown key, after which nothing is checked.
func Read(path string, data []byte) (*Config, *Problems, error) {
	var f File
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, nil, fmt.Errorf("%s: unknown key(s): %s", path, strings.Join(unknownKeys(string(data), und), ", "))
	}
	p := &Problems{Path: path}
	sum := sha256.Sum256(data)
	return build(p, path, hex.EncodeToString(sum[:8]), f), p, nil
}

// build applies the defaults to f and checks its values, adding to p.
func build(p *Problems, path, digest string, f File) *Config {
	c := &Config{Path: path, Digest: digest, File: f}
	c.PolicySource = c.policySource(p, f)
	c.Daemon = daemon(p, f.Daemon)
	c.Registry = registry(p, f.Registry)
	c.Registry.CredentialProviders = credentialProviders(p, c, f.Registry.CredentialProviders)
	c.Registry.PodPullSecrets = podPullSecrets(p, c, f.Registry.PodPullSecrets)
	c.Running = running(p, f.Policy)
	c.onCRIO(p, f.Policy)
	c.Cache = Cache{
		AllowTTL:   p.Duration("cache.allow_ttl", f.Cache.AllowTTL, DefaultAllowTTL),
		DenyTTL:    p.Duration("cache.deny_ttl", f.Cache.DenyTTL, DefaultDenyTTL),
		MaxEntries: int(p.Positive("cache.max_entries", int64(f.Cache.MaxEntries), DefaultMaxEntries)),
	}
	c.KMS = c.kms(p, f.KMS)
	c.Hooks = hooks(p, f.Hooks, c.Daemon.Runtime)
	c.AddedMounts = addedMounts(p, f.AddedMounts, c.Daemon.Runtime, c.Daemon.StateDir)
	return c
}

func daemon(p *Problems, d DaemonSection) Daemon {
	out := Daemon{
		NRISocket:              Or(d.NRISocket, DefaultNRISocket),
		PluginName:             Or(d.PluginName, DefaultPluginName),
		PluginIndex:            Or(d.PluginIndex, DefaultPluginIndex),
		ContainerdSocket:       Or(d.ContainerdSocket, DefaultContainerdSocket),
		ContainerdNamespace:    Or(d.ContainerdNamespace, DefaultContainerdNamespace),
		DecisionDeadline:       p.Duration("daemon.decision_deadline", d.DecisionDeadline, DefaultDecisionDeadline),
		StateDir:               Or(d.StateDir, DefaultStateDir),
		Snapshotters:           d.Snapshotters,
		APISocket:              Or(d.APISocket, DefaultAPISocket),
		Preverify:              DefaultPreverify,
		Annotate:               DefaultAnnotate,
		PreverifyWorkers:       int(p.Positive("daemon.preverify_workers", int64(d.PreverifyWorkers), DefaultPreverifyWorkers)),
		MetricsAddress:         DefaultMetricsAddress,
		WatchConfig:            p.Duration("daemon.watch_config", d.WatchConfig, 0),
		AllowCheckpointRestore: d.AllowCheckpointRestore,
		Prove:                  ProveKeys{Interval: d.ProveInterval, Image: d.ProveImage},
		Runtime:                runtime(p, d.Runtime),
	}
	if d.Preverify != nil {
		out.Preverify = *d.Preverify
	}
	if d.Annotate != nil {
		out.Annotate = *d.Annotate
	}
	if d.MetricsAddress != nil {
		out.MetricsAddress = *d.MetricsAddress
	}
	if len(out.Snapshotters) == 0 {
		out.Snapshotters = []string{DefaultSnapshotter}
	}
	if len(out.PluginIndex) != 2 || out.PluginIndex[0] < '0' || out.PluginIndex[0] > '9' || out.PluginIndex[1] < '0' || out.PluginIndex[1] > '9' {
		p.Errorf("daemon.plugin_index = %q: NRI wants two digits, e.g. \"10\"", out.PluginIndex)
	}
	// The ceiling that matters is containerd's NRI request timeout, which
	// signgate learns when it connects (and answers within 3/4 of); this
	// only refuses the absurd.
	if out.WatchConfig > 0 && out.WatchConfig < time.Second {
		p.Errorf("daemon.watch_config = %s: at least 1s", out.WatchConfig)
	}
	if out.DecisionDeadline > time.Minute {
		p.Errorf("daemon.decision_deadline = %s: at most 1m; NRI serialises container creation, so every pod on the node would wait this long behind one slow registry", out.DecisionDeadline)
	}
	return out
}

func registry(p *Problems, r RegistrySection) Registry {
	return Registry{
		HostsDir:          r.HostsDir,
		DockerConfig:      r.DockerConfig,
		VerifyTimeout:     p.Duration("registry.verify_timeout", r.VerifyTimeout, DefaultVerifyTimeout),
		MaxManifestBytes:  p.Positive("registry.max_manifest_bytes", r.MaxManifestBytes, DefaultMaxManifestBytes),
		MaxBlobBytes:      p.Positive("registry.max_blob_bytes", r.MaxBlobBytes, DefaultMaxBlobBytes),
		MaxReferrersBytes: p.Positive("registry.max_referrers_bytes", r.MaxReferrersBytes, DefaultMaxReferrersBytes),
		MaxSignatures:     int(p.Positive("registry.max_signatures", r.MaxSignatures, DefaultMaxSignatures)),
	}
}

func (c *Config) kms(p *Problems, km KMSSection) KMS {
	out := KMS{
		SyncInterval:   p.Duration("kms.sync_interval", km.SyncInterval, DefaultKMSSyncInterval),
		RequestTimeout: p.Duration("kms.request_timeout", km.RequestTimeout, DefaultKMSRequestTimeout),
		Providers: map[string]KMSProvider{
			"aws":   {Endpoint: km.AWS.Endpoint, Region: km.AWS.Region, CAFile: c.Resolve(km.AWS.CAFile)},
			"gcp":   {Endpoint: km.GCP.Endpoint, CAFile: c.Resolve(km.GCP.CAFile), Insecure: km.GCP.Insecure},
			"azure": {CAFile: c.Resolve(km.Azure.CAFile)},
			"vault": {Endpoint: km.Vault.Address, TokenFile: c.Resolve(km.Vault.TokenFile), TransitPath: km.Vault.TransitPath, CAFile: c.Resolve(km.Vault.CAFile)},
		},
	}
	if km.MaxStaleness != "" {
		out.MaxStaleness = p.Duration("kms.max_staleness", km.MaxStaleness, 0)
	}
	if out.SyncInterval < 10*time.Second {
		p.Errorf("kms.sync_interval = %q: at least 10s, or every node hammers the KMS", km.SyncInterval)
	}
	if out.MaxStaleness > 0 && out.MaxStaleness < 2*out.SyncInterval {
		p.Errorf("kms.max_staleness = %q: must be at least twice kms.sync_interval (%s), or one slow sync takes every key away", km.MaxStaleness, out.SyncInterval)
	}
	out.GracePeriod = p.NonNegative("kms.grace_period", km.GracePeriod, DefaultKMSGracePeriod)
	return out
}

// Resolve makes a path the config names relative to the config's own
// directory; "" stays "".
func (c *Config) Resolve(path string) string {
	if path != "" && !filepath.IsAbs(path) {
		return filepath.Join(filepath.Dir(c.Path), path)
	}
	return path
}

// Or is s, or def when s is not set.
func Or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
