// Package config reads signgate's TOML configuration strictly: an unknown
// key, a bad duration or glob, an unreadable key or a policy naming a key that
// does not exist is an error naming the file and the key path.
package config

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/tufroot"
	"github.com/signgate/signgate/localapi"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// DefaultPath is where the daemon looks for its config.
const DefaultPath = "/etc/signgate/config.toml"

// DefaultMetricsAddress serves metrics and health on loopback only.
const DefaultMetricsAddress = "127.0.0.1:9464"

// DefaultAPISocket is where the daemon answers the image verifier.
const DefaultAPISocket = localapi.DefaultSocket

// file mirrors the TOML layout.
type file struct {
	Daemon   daemonSection          `toml:"daemon"`
	Registry registrySection        `toml:"registry"`
	Cache    cacheSection           `toml:"cache"`
	KMS      kmsSection             `toml:"kms"`
	Keys     map[string]keySection  `toml:"keys"`
	Certs    map[string]certSection `toml:"certs"`
	// Keyless: Sigstore trust roots, and the identities signing under them.
	TrustRoots map[string]trustRootSection `toml:"trust_roots"`
	Identities map[string]identitySection  `toml:"identities"`
	Policy     []policySection             `toml:"policy"`
}

type trustRootSection struct {
	Path      string `toml:"path"`       // a trusted_root.json
	TUFMirror string `toml:"tuf_mirror"` // or a TUF repository publishing one
	TUFRoot   string `toml:"tuf_root"`   // the repository's pinned initial root.json
	Refresh   string `toml:"refresh"`    // how often to update from it
	// MaxStaleness: how long after the last verified update it is trusted;
	// by default, until the TUF metadata of that update expires.
	MaxStaleness string `toml:"max_staleness"`
}

type identitySection struct {
	TrustRoot     string `toml:"trust_root"`
	Issuer        string `toml:"issuer"`
	IssuerRegexp  string `toml:"issuer_regexp"`
	Subject       string `toml:"subject"`
	SubjectRegexp string `toml:"subject_regexp"`
	// Fulcio's certificate extensions, compared exactly when set.
	SourceRepositoryURI string `toml:"source_repository_uri"`
	SourceRepositoryRef string `toml:"source_repository_ref"`
	BuildSignerURI      string `toml:"build_signer_uri"`
	BuildTrigger        string `toml:"build_trigger"`
}

type daemonSection struct {
	NRISocket           string   `toml:"nri_socket"`
	PluginName          string   `toml:"plugin_name"`
	PluginIndex         string   `toml:"plugin_index"`
	ContainerdSocket    string   `toml:"containerd_socket"`
	ContainerdNamespace string   `toml:"containerd_namespace"`
	DecisionDeadline    string   `toml:"decision_deadline"`
	StateDir            string   `toml:"state_dir"`
	Snapshotters        []string `toml:"snapshotters"`
	APISocket           string   `toml:"api_socket"`
	Preverify           *bool    `toml:"preverify"`
	Annotate            *bool    `toml:"annotate"`
	PreverifyWorkers    int      `toml:"preverify_workers"`
	MetricsAddress      *string  `toml:"metrics_address"`
	WatchConfig         string   `toml:"watch_config"`

	AllowCheckpointRestore bool           `toml:"allow_checkpoint_restore"`
	Runtime                runtimeSection `toml:"runtime"`
}

type registrySection struct {
	HostsDir         string `toml:"hosts_dir"`
	DockerConfig     string `toml:"docker_config"`
	VerifyTimeout    string `toml:"verify_timeout"`
	MaxManifestBytes int64  `toml:"max_manifest_bytes"`
	MaxBlobBytes     int64  `toml:"max_blob_bytes"`
	// What the referrers listings of all verifications in flight may hold.
	MaxReferrersBytes int64 `toml:"max_referrers_bytes"`
}

type cacheSection struct {
	AllowTTL   string `toml:"allow_ttl"`
	DenyTTL    string `toml:"deny_ttl"`
	MaxEntries int    `toml:"max_entries"`
}

type keySection struct {
	PEM         string `toml:"pem"`
	Path        string `toml:"path"`
	KMS         string `toml:"kms"`
	Version     string `toml:"version"`
	GracePeriod string `toml:"grace_period"`
}

type kmsSection struct {
	SyncInterval   string          `toml:"sync_interval"`
	GracePeriod    string          `toml:"grace_period"`
	MaxStaleness   string          `toml:"max_staleness"`
	RequestTimeout string          `toml:"request_timeout"`
	AWS            kmsAWSSection   `toml:"aws"`
	GCP            kmsGCPSection   `toml:"gcp"`
	Azure          kmsAzureSection `toml:"azure"`
	Vault          kmsVaultSection `toml:"vault"`
}

type kmsAWSSection struct {
	Endpoint string `toml:"endpoint"`
	Region   string `toml:"region"`
	CAFile   string `toml:"ca_file"`
}

type kmsGCPSection struct {
	Endpoint string `toml:"endpoint"`
	CAFile   string `toml:"ca_file"`
	Insecure bool   `toml:"insecure"`
}

type kmsAzureSection struct {
	CAFile string `toml:"ca_file"`
}

type kmsVaultSection struct {
	Address     string `toml:"address"`
	TokenFile   string `toml:"token_file"`
	TransitPath string `toml:"transit_path"`
	CAFile      string `toml:"ca_file"`
}

// KMS settings, parsed.
type KMS struct {
	SyncInterval   time.Duration
	MaxStaleness   time.Duration // 0: no limit
	RequestTimeout time.Duration
	Settings       map[string]kms.Settings // by section under [kms]: "aws", "gcp", "azure", "vault"
}

type certSection struct {
	Kind string `toml:"kind"`
	PEM  string `toml:"pem"`
	Path string `toml:"path"`
}

type policySection struct {
	Name       string           `toml:"name"`
	Scopes     []string         `toml:"scopes"`
	Mode       string           `toml:"mode"`
	Namespaces []string         `toml:"namespaces"`
	Signatures string           `toml:"signatures"`
	Cosign     *cosignSection   `toml:"cosign"`
	Notation   *notationSection `toml:"notation"`
	// Attestation is written [[policy.attestation]], one table each.
	Attestation []attestationSection `toml:"attestation"`
}

type attestationSection struct {
	Name               string   `toml:"name"`
	Type               string   `toml:"type"`
	Keys               []string `toml:"keys"`
	Identities         []string `toml:"identities"`
	Require            rule     `toml:"require"`
	Tlog               string   `toml:"tlog"`
	TlogRoot           string   `toml:"tlog_root"`
	Builders           []string `toml:"builders"`
	SourceRepositories []string `toml:"source_repositories"`
	MaxAge             string   `toml:"max_age"`
	Conditions         []string `toml:"conditions"`
}

type notationSection struct {
	Certs           []string `toml:"certs"`
	TSA             []string `toml:"tsa"`
	Identities      []string `toml:"identities"`
	Level           string   `toml:"level"`
	Revocation      string   `toml:"revocation"`
	VerifyTimestamp string   `toml:"verify_timestamp"`
	Require         rule     `toml:"require"`
}

// rule is a threshold as written: "any", "all", or a count, which the docs
// call "a number N" and so may be a TOML integer (require = 2) or a string.
type rule string

// UnmarshalTOML takes a string or an integer.
func (r *rule) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*r = rule(x)
	case int64:
		*r = rule(strconv.FormatInt(x, 10))
	default:
		return fmt.Errorf(`require = %v: want "any", "all" or a count such as 2`, v)
	}
	return nil
}

type cosignSection struct {
	Keys           []string `toml:"keys"`
	Identities     []string `toml:"identities"`
	Require        rule     `toml:"require"`
	EverySignature bool     `toml:"every_signature"`
	Tlog           string   `toml:"tlog"`
	TlogRoot       string   `toml:"tlog_root"`
}

// TUFSource is a trust root kept from a TUF repository, and how often.
type TUFSource struct {
	tufroot.Source
	Every time.Duration // refresh
	// MaxStaleness: how long after a verified update the trust root stays
	// trusted; 0 for until that update's TUF metadata expires.
	MaxStaleness time.Duration
}

// TrustRoot is what was kept, trusted until its staleness limit.
func (s *TUFSource) TrustRoot(k *tufroot.Kept) (*verify.TrustRoot, error) {
	tr, err := verify.ParseTrustRoot(s.Name, s.Path(), k.TrustedRoot)
	if err != nil {
		return nil, err
	}
	tr.Verified = k.Verified
	if s.MaxStaleness > 0 {
		tr.NotAfter, tr.Limit = k.Verified.Add(s.MaxStaleness), "trust_roots."+s.Name+".max_staleness "+s.MaxStaleness.String()
	} else {
		tr.NotAfter, tr.Limit = k.Expires, "the expiry of the TUF metadata that last vouched for it"
	}
	return tr, nil
}

// Daemon settings, parsed.
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
	Runtime                Runtime // which runtime's records to read (runtime.go)
}

// Config is a validated configuration.
type Config struct {
	Path     string
	Daemon   Daemon
	Registry registry.Config
	Engine   verify.Options
	Keys     keystore.Static
	KMSKeys  []keysync.Spec // keys synced from a KMS
	KMS      KMS
	Certs    []keystore.StaticCert
	// TrustRoots by name, read and parsed at load; Identities name them.
	TrustRoots map[string]*verify.TrustRoot
	// TUF lists the trust roots kept from TUF repositories; their
	// TrustRoots entry is the last-known-good copy, or has no Material
	// before the first update.
	TUF        []TUFSource
	Identities []*verify.Identity
	Policies   verify.Policies
	// Digest identifies the file's content, so verdicts can be bound to it.
	Digest string

	placeholders []string // static keys that are the packaged placeholder
	refused      []string // last-known-good trust roots that failed a check
}

// Load reads and validates path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse validates data, read from path (for messages and relative key paths).
func Parse(path string, data []byte) (*Config, error) {
	var f file
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key(s): %s", path, strings.Join(unknownKeys(string(data), und), ", "))
	}
	v := &validator{path: path}
	c := &Config{Path: path}
	sum := sha256.Sum256(data)
	c.Digest = hex.EncodeToString(sum[:8])

	d := f.Daemon
	c.Daemon = Daemon{
		NRISocket:           or(d.NRISocket, "/var/run/nri/nri.sock"),
		PluginName:          or(d.PluginName, "signgate"),
		PluginIndex:         or(d.PluginIndex, "10"),
		ContainerdSocket:    or(d.ContainerdSocket, "/run/containerd/containerd.sock"),
		ContainerdNamespace: or(d.ContainerdNamespace, "k8s.io"),
		DecisionDeadline:    v.duration("daemon.decision_deadline", d.DecisionDeadline, 1500*time.Millisecond),
		StateDir:            or(d.StateDir, "/var/lib/signgate"),
		Snapshotters:        d.Snapshotters,
		APISocket:           or(d.APISocket, DefaultAPISocket),
		Preverify:           d.Preverify == nil || *d.Preverify,
		Annotate:            d.Annotate == nil || *d.Annotate,
		PreverifyWorkers:    int(v.positive("daemon.preverify_workers", int64(d.PreverifyWorkers), 2)),
		MetricsAddress:      DefaultMetricsAddress,
		WatchConfig:         v.duration("daemon.watch_config", d.WatchConfig, 0),
	}
	if d.MetricsAddress != nil {
		c.Daemon.MetricsAddress = *d.MetricsAddress
	}
	c.Daemon.AllowCheckpointRestore = d.AllowCheckpointRestore
	c.Daemon.Runtime = d.Runtime.parse(v)
	if len(c.Daemon.Snapshotters) == 0 {
		c.Daemon.Snapshotters = []string{"overlayfs"}
	}
	if len(c.Daemon.PluginIndex) != 2 || c.Daemon.PluginIndex[0] < '0' || c.Daemon.PluginIndex[0] > '9' || c.Daemon.PluginIndex[1] < '0' || c.Daemon.PluginIndex[1] > '9' {
		v.errorf("daemon.plugin_index = %q: NRI wants two digits, e.g. \"10\"", c.Daemon.PluginIndex)
	}
	// The ceiling that matters is containerd's NRI request timeout, which
	// signgate learns when it connects (and answers within 3/4 of); this
	// only refuses the absurd.
	if c.Daemon.WatchConfig > 0 && c.Daemon.WatchConfig < time.Second {
		v.errorf("daemon.watch_config = %s: at least 1s", c.Daemon.WatchConfig)
	}
	if c.Daemon.DecisionDeadline > time.Minute {
		v.errorf("daemon.decision_deadline = %s: at most 1m; NRI serialises container creation, so every pod on the node would wait this long behind one slow registry", c.Daemon.DecisionDeadline)
	}

	r := f.Registry
	c.Registry = registry.Config{
		HostsDir:          r.HostsDir,
		DockerConfig:      r.DockerConfig,
		MaxManifestBytes:  v.positive("registry.max_manifest_bytes", r.MaxManifestBytes, registry.DefaultMaxManifestBytes),
		MaxBlobBytes:      v.positive("registry.max_blob_bytes", r.MaxBlobBytes, registry.DefaultMaxBlobBytes),
		MaxReferrersBytes: v.positive("registry.max_referrers_bytes", r.MaxReferrersBytes, registry.DefaultMaxReferrersBytes),
	}
	if r.DockerConfig != "" {
		if _, err := os.Stat(r.DockerConfig); err != nil {
			v.errorf("registry.docker_config: %v", err)
		}
	}
	c.Engine = verify.Options{
		VerifyTimeout: v.duration("registry.verify_timeout", r.VerifyTimeout, 10*time.Second),
		AllowTTL:      v.duration("cache.allow_ttl", f.Cache.AllowTTL, 10*time.Minute),
		DenyTTL:       v.duration("cache.deny_ttl", f.Cache.DenyTTL, 10*time.Second),
		MaxCached:     int(v.positive("cache.max_entries", int64(f.Cache.MaxEntries), 10000)),
	}

	km := f.KMS
	c.KMS = KMS{
		SyncInterval:   v.duration("kms.sync_interval", km.SyncInterval, 5*time.Minute),
		RequestTimeout: v.duration("kms.request_timeout", km.RequestTimeout, 10*time.Second),
		Settings: map[string]kms.Settings{
			"aws":   {Endpoint: km.AWS.Endpoint, Region: km.AWS.Region, CAFile: v.file("kms.aws.ca_file", km.AWS.CAFile)},
			"gcp":   {Endpoint: km.GCP.Endpoint, CAFile: v.file("kms.gcp.ca_file", km.GCP.CAFile), Insecure: km.GCP.Insecure},
			"azure": {CAFile: v.file("kms.azure.ca_file", km.Azure.CAFile)},
			"vault": {Endpoint: km.Vault.Address, TokenFile: v.file("kms.vault.token_file", km.Vault.TokenFile), TransitPath: km.Vault.TransitPath, CAFile: v.file("kms.vault.ca_file", km.Vault.CAFile)},
		},
	}
	if km.MaxStaleness != "" {
		c.KMS.MaxStaleness = v.duration("kms.max_staleness", km.MaxStaleness, 0)
	}
	if c.KMS.SyncInterval < 10*time.Second {
		v.errorf("kms.sync_interval = %q: at least 10s, or every node hammers the KMS", km.SyncInterval)
	}
	if c.KMS.MaxStaleness > 0 && c.KMS.MaxStaleness < 2*c.KMS.SyncInterval {
		v.errorf("kms.max_staleness = %q: must be at least twice kms.sync_interval (%s), or one slow sync takes every key away", km.MaxStaleness, c.KMS.SyncInterval)
	}
	defaultGrace := v.nonNegative("kms.grace_period", km.GracePeriod, 24*time.Hour)

	material := map[string]string{} // key or certificate name -> fingerprint
	names := make([]string, 0, len(f.Keys))
	for n := range f.Keys {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k := f.Keys[n]
		if k.KMS != "" {
			if k.PEM != "" || k.Path != "" {
				v.errorf("keys.%s: give kms, pem or path, only one", n)
				continue
			}
			ref, err := kms.Parse(k.KMS, k.Version)
			if err != nil {
				v.errorf("keys.%s.kms: %v", n, err)
				continue
			}
			c.KMSKeys = append(c.KMSKeys, keysync.Spec{Name: n, Ref: ref, Grace: v.nonNegative("keys."+n+".grace_period", k.GracePeriod, defaultGrace)})
			continue
		}
		if k.Version != "" || k.GracePeriod != "" {
			v.errorf("keys.%s: version and grace_period apply only to kms keys", n)
			continue
		}
		p := k.Path
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		sk := keystore.StaticKey{Name: n, PEM: k.PEM, Path: p}
		// Parse now so a bad key is a config error, not a denial at runtime.
		loaded, err := (keystore.Static{sk}).Load(context.Background())
		if err != nil {
			v.errorf("keys.%s: %v", n, err)
			continue
		}
		material[n] = loaded[0].Fingerprint
		if loaded[0].Fingerprint == PlaceholderFingerprint {
			c.placeholders = append(c.placeholders, n)
		}
		c.Keys = append(c.Keys, sk)
	}

	certNames := make([]string, 0, len(f.Certs))
	for n := range f.Certs {
		certNames = append(certNames, n)
	}
	sort.Strings(certNames)
	certKinds := map[string]string{}
	certMaterial := map[string]string{}
	for _, n := range certNames {
		cs := f.Certs[n]
		p := cs.Path
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		sc := keystore.StaticCert{Name: n, Kind: or(cs.Kind, keystore.CertCA), PEM: cs.PEM, Path: p}
		// Parse now: a malformed, non-CA or expired certificate is a config error.
		cert, err := sc.Load(time.Now())
		if err != nil {
			v.errorf("certs.%s: %v", n, err)
			continue
		}
		certMaterial[n] = cert.Fingerprint
		certKinds[n] = sc.Kind
		c.Certs = append(c.Certs, sc)
	}

	c.TrustRoots = map[string]*verify.TrustRoot{}
	for _, n := range sortedKeys(f.TrustRoots) {
		tr := f.TrustRoots[n]
		rel := func(p string) string {
			if p != "" && !filepath.IsAbs(p) {
				return filepath.Join(filepath.Dir(path), p)
			}
			return p
		}
		switch {
		case (tr.Path == "") == (tr.TUFMirror == ""):
			v.errorf("trust_roots.%s: give path (a Sigstore trusted_root.json) or tuf_mirror (a TUF repository publishing one), one of them", n)
			continue
		case tr.Path != "":
			if tr.TUFRoot != "" || tr.Refresh != "" || tr.MaxStaleness != "" {
				v.errorf("trust_roots.%s: tuf_root, refresh and max_staleness apply only with tuf_mirror", n)
			}
			root, err := verify.LoadTrustRoot(n, rel(tr.Path))
			if err != nil {
				v.errorf("trust_roots.%s: %v", n, err)
				continue
			}
			c.TrustRoots[n] = root
			continue
		}
		if tr.TUFRoot == "" {
			v.errorf("trust_roots.%s: tuf_mirror needs tuf_root, the repository's root.json to trust first", n)
			continue
		}
		if u, err := url.Parse(tr.TUFMirror); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.errorf("trust_roots.%s.tuf_mirror = %q: want an http(s) URL", n, tr.TUFMirror)
			continue
		}
		if _, err := os.Stat(rel(tr.TUFRoot)); err != nil {
			v.errorf("trust_roots.%s.tuf_root: %v", n, err)
			continue
		}
		every := v.duration("trust_roots."+n+".refresh", tr.Refresh, 24*time.Hour)
		if every < time.Minute {
			v.errorf("trust_roots.%s.refresh = %s: at least 1m", n, every)
		}
		src := TUFSource{Source: tufroot.Source{Name: n, Mirror: tr.TUFMirror, RootFile: rel(tr.TUFRoot), StateDir: c.Daemon.StateDir}, Every: every}
		if tr.MaxStaleness != "" {
			src.MaxStaleness = v.duration("trust_roots."+n+".max_staleness", tr.MaxStaleness, 0)
			if src.MaxStaleness > 0 && src.MaxStaleness < 2*every {
				v.errorf("trust_roots.%s.max_staleness = %q: must be at least twice refresh (%s), or one failed update takes the trust root away", n, tr.MaxStaleness, every)
			}
		}
		c.TUF = append(c.TUF, src)
		// The last-known-good copy, if a refresh has made one and it passes
		// every state file's checks. One that fails them is not used, and
		// not a config error: the next update replaces it.
		root := &verify.TrustRoot{Name: n, Source: src.Path()}
		if kept, err := src.Load(); err == nil {
			if root, err = src.TrustRoot(kept); err != nil {
				root = &verify.TrustRoot{Name: n, Source: src.Path()}
				c.refused = append(c.refused, fmt.Sprintf("trust_roots.%s: the last-known-good copy %s is not used: %v", n, src.Path(), err))
			}
		} else if !errors.Is(err, tufroot.ErrNotKept) {
			c.refused = append(c.refused, fmt.Sprintf("trust_roots.%s: the last-known-good copy is not used: %v", n, err))
		}
		c.TrustRoots[n] = root
	}
	for _, n := range sortedKeys(f.Identities) {
		is := f.Identities[n]
		if _, ok := f.Keys[n]; ok {
			v.errorf("identities.%s: a key has this name too; policies could not tell them apart", n)
		}
		id := &verify.Identity{Name: n, TrustRoot: is.TrustRoot, Issuer: is.Issuer, IssuerRegexp: is.IssuerRegexp,
			Subject: is.Subject, SubjectRegexp: is.SubjectRegexp}
		id.Extensions.SourceRepositoryURI, id.Extensions.SourceRepositoryRef = is.SourceRepositoryURI, is.SourceRepositoryRef
		id.Extensions.BuildSignerURI, id.Extensions.BuildTrigger = is.BuildSignerURI, is.BuildTrigger
		if _, ok := f.TrustRoots[is.TrustRoot]; !ok {
			v.errorf("identities.%s.trust_root = %q: not defined under [trust_roots]", n, is.TrustRoot)
		}
		if _, err := id.Matcher(); err != nil {
			v.errorf("%v", err)
			continue
		}
		c.Identities = append(c.Identities, id)
	}

	if len(f.Policy) == 0 {
		v.errorf("no [[policy]] is defined, so every image would be denied")
	}
	seen := map[string]bool{}
	for i, ps := range f.Policy {
		at := fmt.Sprintf("policy[%d]", i)
		if ps.Name != "" {
			at = fmt.Sprintf("policy[%d] %q", i, ps.Name)
		}
		if p, ok := v.policy(at, ps, f.Keys, f.Identities, f.TrustRoots, certKinds); ok {
			if seen[p.Name] {
				v.errorf("%s: the name is used by an earlier policy", at)
			}
			seen[p.Name] = true
			if p.Cosign != nil {
				v.sameMaterial(at+".cosign.keys", p.Cosign.Keys, material, "key")
			}
			if p.Notation != nil {
				v.sameMaterial(at+".notation.certs", p.Notation.Roots, certMaterial, "certificate")
			}
			c.Policies = append(c.Policies, p)
		}
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// policy builds a policy from its section: what only the file can tell
// (scope syntax, keys and certificates defined, how require is written),
// then the policy's own rules (verify.Policy.Validate).
func (v *validator) policy(at string, ps policySection, keys map[string]keySection, ids map[string]identitySection, roots map[string]trustRootSection, certs map[string]string) (verify.Policy, bool) {
	n := len(v.errs)
	p := verify.Policy{Name: ps.Name, Mode: verify.Mode(or(ps.Mode, string(verify.Enforce))), Namespaces: ps.Namespaces, Signatures: verify.Combine(ps.Signatures)}
	for _, s := range ps.Scopes {
		// A tag would pass as a repository named "repo:v1" that no image
		// has: the policy would never match.
		if i := strings.LastIndex(s, "/"); i >= 0 && strings.ContainsAny(s[i+1:], ":@") {
			v.errorf("%s.scopes: scope %q names a tag or digest, so it would never match: a scope matches repositories, whatever their tags; write %q", at, s, s[:i+1+strings.IndexAny(s[i+1:], ":@")])
			continue
		}
		sc, err := verify.ParseScope(s)
		if err != nil {
			v.errorf("%s.scopes: %v", at, err)
			continue
		}
		p.Scopes = append(p.Scopes, sc)
	}
	if len(p.Scopes) == 0 && len(ps.Scopes) > 0 {
		// Each was refused above; do not also say scopes is missing. The
		// policy is not kept (errors were found).
		p.Scopes = []verify.Scope{{Pattern: ps.Scopes[0]}}
	}
	if cs := ps.Cosign; cs != nil {
		p.Cosign = v.signers(at+".cosign", cs.Keys, cs.Identities, cs.Require, cs.Tlog, cs.TlogRoot, keys, ids, roots)
		p.Cosign.EverySignature = cs.EverySignature
	}
	for i, as := range ps.Attestation {
		p.Attestations = append(p.Attestations, v.attestation(fmt.Sprintf("%s.attestation[%d]", at, i), as, keys, ids, roots))
	}
	if ns := ps.Notation; ns != nil {
		p.Notation = v.notation(at, ns, certs)
	}
	for _, err := range p.Validate() {
		v.errorf("%s%v", at, err)
	}
	if ps.Signatures == string(verify.Both) && (ps.Cosign == nil || ps.Notation == nil) {
		v.errorf("%s.signatures = %q: combines kinds, but the policy requires only one; give both [policy.cosign] and [policy.notation]", at, ps.Signatures)
	}
	if p.Signatures == "" {
		p.Signatures = verify.Both
	}
	return p, len(v.errs) == n
}

// signers reads who must sign, for a signature or an attestation at at.
func (v *validator) signers(at string, keyNames, idNames []string, require rule, tlog, tlogRoot string, keys map[string]keySection, ids map[string]identitySection, roots map[string]trustRootSection) *verify.CosignRequirement {
	for _, k := range keyNames {
		if _, ok := keys[k]; !ok {
			v.errorf("%s.keys: key %q is not defined under [keys]", at, k)
		}
	}
	for _, k := range idNames {
		if _, ok := ids[k]; !ok {
			v.errorf("%s.identities: identity %q is not defined under [identities]", at, k)
		}
	}
	n := len(keyNames) + len(idNames)
	th, err := verify.ParseThreshold(string(require), n)
	if err != nil && n > 0 {
		v.errorf("%s.%v", at, err)
		th = 1
	}
	tl, err := verify.ParseTlog(tlog)
	if err != nil {
		v.errorf("%s.%v", at, err)
	}
	if _, ok := roots[tlogRoot]; tlogRoot != "" && !ok {
		v.errorf("%s.tlog_root = %q: not defined under [trust_roots]", at, tlogRoot)
	}
	return &verify.CosignRequirement{Keys: keyNames, Identities: idNames, Threshold: th, Tlog: tl, TlogRoot: tlogRoot}
}

// attestation reads one [[policy.attestation]]: its type, signers, and
// conditions, each compiled now so that a mistake names the file, policy
// and expression at load rather than denying at run time.
func (v *validator) attestation(at string, as attestationSection, keys map[string]keySection, ids map[string]identitySection, roots map[string]trustRootSection) *verify.AttestationRequirement {
	req := &verify.AttestationRequirement{Name: or(as.Name, as.Type)}
	req.Signers = *v.signers(at, as.Keys, as.Identities, as.Require, as.Tlog, as.TlogRoot, keys, ids, roots)
	if as.Type == "" {
		return req // the policy's own validation says so
	}
	pt, err := verify.ParsePredicateType(as.Type)
	if err != nil {
		v.errorf("%s.%v", at, err)
		req.PredicateType = as.Type
		return req
	}
	req.PredicateType = pt
	slsa := pt == verify.PredicateSLSA1 || pt == verify.PredicateSLSA02
	if len(as.Builders) > 0 {
		if !slsa {
			v.errorf("%s.builders: reads SLSA provenance, but type = %q is not SLSA provenance", at, as.Type)
		}
		req.Conditions = append(req.Conditions, verify.BuildersCondition(as.Builders))
	}
	if len(as.SourceRepositories) > 0 {
		if !slsa {
			v.errorf("%s.source_repositories: reads SLSA provenance, but type = %q is not SLSA provenance", at, as.Type)
		}
		req.Conditions = append(req.Conditions, verify.SourceRepositoriesCondition(as.SourceRepositories))
	}
	if as.MaxAge != "" {
		d, err := time.ParseDuration(as.MaxAge)
		if err != nil || d <= 0 {
			v.errorf("%s.max_age = %q: want a positive duration such as \"168h\"", at, as.MaxAge)
		} else {
			req.MaxAge = d
			req.Conditions = append(req.Conditions, verify.MaxAgeCondition(d))
		}
	}
	for i, expr := range as.Conditions {
		c, err := verify.CompileCondition(expr)
		if err != nil {
			var ce *verify.ConditionError
			if errors.As(err, &ce) {
				err = errors.New(ce.Problem)
			}
			v.errorf("%s.conditions[%d] %q: %v", at, i, expr, err)
			continue
		}
		req.Conditions = append(req.Conditions, c)
	}
	return req
}

func (v *validator) notation(at string, ns *notationSection, certs map[string]string) *verify.NotationRequirement {
	req := &verify.NotationRequirement{Roots: ns.Certs, TSA: ns.TSA, Identities: ns.Identities, Level: or(ns.Level, "strict"), Revocation: ns.Revocation}
	switch ns.Revocation {
	case "", "enforce", "log":
	default:
		v.errorf("%s.notation.revocation = %q: want \"enforce\" or \"log\"", at, ns.Revocation)
	}
	switch ns.VerifyTimestamp {
	case "", "always":
	case "after_cert_expiry":
		req.AfterCertExpiry = true
	default:
		v.errorf("%s.notation.verify_timestamp = %q: want \"always\" or \"after_cert_expiry\"", at, ns.VerifyTimestamp)
	}
	if len(req.Identities) == 0 {
		req.Identities = []string{"*"}
	}
	for _, c := range ns.Certs {
		if kind, ok := certs[c]; !ok {
			v.errorf("%s.notation.certs: certificate %q is not defined under [certs]", at, c)
		} else if kind != keystore.CertCA {
			v.errorf("%s.notation.certs: certificate %q is a %s certificate, not a ca", at, c, kind)
		}
	}
	for _, c := range ns.TSA {
		if kind, ok := certs[c]; !ok {
			v.errorf("%s.notation.tsa: certificate %q is not defined under [certs]", at, c)
		} else if kind != keystore.CertTSA {
			v.errorf("%s.notation.tsa: certificate %q is a %s certificate, not a tsa", at, c, kind)
		}
	}
	req.Threshold = 1
	if len(ns.Certs) > 0 {
		th, err := verify.ParseThreshold(string(ns.Require), len(ns.Certs))
		if err != nil {
			v.errorf("%s.notation.%v", at, err)
		} else {
			req.Threshold = th
		}
	}
	return req
}

// sameMaterial refuses a list naming one key twice under two names: its
// threshold would count one signature as two signers. (KMS keys are known
// only after a sync; the verifier counts distinct material for them too.)
func (v *validator) sameMaterial(at string, names []string, material map[string]string, what string) {
	first := map[string]string{}
	for _, n := range names {
		fp, ok := material[n]
		if !ok {
			continue
		}
		if prev, dup := first[fp]; dup {
			v.errorf("%s: %ss %q and %q hold the same %s (%s), so one signature would count as two; list it once", at, what, prev, n, what, fp)
			continue
		}
		first[fp] = n
	}
}

type validator struct {
	path string
	errs []string
}

func (v *validator) errorf(format string, args ...any) {
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", v.path, strings.Join(v.errs, "\n  "+v.path+": "))
}

func (v *validator) duration(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		v.errorf("%s = %q: want a positive duration such as \"1500ms\" or \"10s\"", key, s)
		return def
	}
	return d
}

// nonNegative is a duration where "0s" is meaningful (no grace period).
func (v *validator) nonNegative(key, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		v.errorf("%s = %q: want a duration such as \"24h\" (or \"0s\" for none)", key, s)
		return def
	}
	return d
}

// file checks that a named file can be read.
func (v *validator) file(key, path string) string {
	if path == "" {
		return ""
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(v.path), path)
	}
	if _, err := os.Stat(path); err != nil {
		v.errorf("%s: %v", key, err)
	}
	return path
}

func (v *validator) positive(key string, n, def int64) int64 {
	if n == 0 {
		return def
	}
	if n < 0 {
		v.errorf("%s = %d: must be positive", key, n)
		return def
	}
	return n
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// PlaceholderFingerprint is the key the Debian package and the DaemonSet
// ship in their first config, whose private half was discarded: nothing can
// sign for it.
const PlaceholderFingerprint = "sha256:2514bbdd80b21798188d7b7d838837d445213e74f9cf709db55de746b52949ec"

// Warnings are what a valid config should still tell its operator loudly:
// that no policy enforces anything, or that a placeholder key is in use.
// check-config prints them; the daemon logs them at start and reload and
// exports signgate_enforcing_policies.
func (c *Config) Warnings() []string {
	var out []string
	if c.EnforcingPolicies() == 0 {
		names := make([]string, len(c.Policies))
		for i, p := range c.Policies {
			names[i] = fmt.Sprintf("%s (%s)", p.Name, p.Mode)
		}
		out = append(out, fmt.Sprintf("no policy enforces: every image is admitted, whatever its signatures (policies: %s); set mode = \"enforce\" on at least one", strings.Join(names, ", ")))
	}
	out = append(out, c.refused...)
	for _, src := range c.TUF {
		tr := c.TrustRoots[src.Name]
		if tr.Material == nil {
			out = append(out, fmt.Sprintf("trust_roots.%s has not been fetched from %s yet: identities under it verify nothing until it is", src.Name, src.Mirror))
		} else if why := tr.Stale(time.Now()); why != "" {
			out = append(out, fmt.Sprintf("trust_roots.%s: %s; identities under it verify nothing until %s vouches for it again", src.Name, why, src.Mirror))
		}
	}
	for _, n := range c.placeholders {
		out = append(out, fmt.Sprintf("keys.%s is the packaged placeholder key, whose private half was discarded, so no image is signed by it: replace it with your own key", n))
	}
	return out
}

// EnforcingPolicies counts the policies in mode "enforce".
func (c *Config) EnforcingPolicies() int {
	n := 0
	for _, p := range c.Policies {
		if p.Mode == verify.Enforce {
			n++
		}
	}
	return n
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
	return &verify.Snapshot{ID: hex.EncodeToString(sum[:8]), Policies: c.Policies, Keys: store, Signers: signers, TrustRoots: c.TrustRoots, Config: c.Digest}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
