package setup

import (
	"log/slog"
	"sort"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/verify"
)

// Config is a config compiled: the settings package config read, and what
// they name read and checked (keys, certificates, trust roots) and turned
// into policies.
type Config struct {
	*config.Config

	Keys    keystore.Static
	KMSKeys []keysync.Spec // keys synced from a KMS
	// KMSSettings are each provider's connection settings, by its section
	// under [kms]: "aws", "gcp", "azure", "vault".
	KMSSettings map[string]kms.Settings
	Certs       []keystore.StaticCert
	// TrustRoots by name, read and parsed at load; Identities name them.
	TrustRoots map[string]*verify.TrustRoot
	// TUF lists the trust roots kept from TUF repositories; their
	// TrustRoots entry is the last-known-good copy, or has no Material
	// before the first update.
	TUF        []TUFSource
	Identities []*verify.Identity
	Policies   verify.Policies
	// NotationPlugins are the verification plugins signatures may name:
	// the only programs verification ever runs.
	NotationPlugins map[string]*verify.NotationPlugin
	// Log hears what the registry client notes beside its errors (a
	// credential provider's stderr, at debug level); nil drops it.
	Log *slog.Logger
	// Source: where the policy comes from when [policy_source] gives it
	// (policysource.go); nil when the file holds it.
	Source *Source

	placeholders []string // static keys that are the packaged placeholder
	refused      []string // last-known-good trust roots that failed a check
}

// Load reads the config at path and compiles it.
func Load(path string) (*Config, error) { return compile(config.ReadFile(path)) }

// Parse compiles data, read from path (for messages and relative paths). A
// key, certificate or trust root that does not parse, or a policy naming one
// that is not defined, is an error naming the file and the key path, beside
// any problem config found in the values.
func Parse(path string, data []byte) (*Config, error) { return compile(config.Read(path, data)) }

// compile adds to p what it finds compiling what config read.
func compile(cc *config.Config, p *config.Problems, err error) (*Config, error) {
	if err != nil {
		return nil, err
	}
	if cc.PolicySource != nil {
		return compileSourced(cc, p)
	}
	return compileFile(cc, p)
}

// compileFile compiles cc's own sections.
func compileFile(cc *config.Config, p *config.Problems) (*Config, error) {
	c := &Config{Config: cc}
	f := &cc.File
	c.KMSSettings = kmsSettings(p, cc.KMS)
	mustExist(p, "registry.docker_config", cc.Registry.DockerConfig)
	material := c.keys(p, f.Keys)
	certKinds, certMaterial := c.certs(p, f.Certs)
	c.notationPlugins(p, f.NotationPlugins, certKinds)
	c.trustRoots(p, f.TrustRoots)
	c.identities(p, f.Identities, f.Keys, f.TrustRoots)
	c.policies(p, f, certKinds, material, certMaterial)
	hookPrograms(p, cc)
	addedMountSources(p, cc)
	if err := p.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
