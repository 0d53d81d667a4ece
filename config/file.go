package config

import (
	"fmt"
	"strconv"
)

// File mirrors the TOML layout, key for key: what the operator wrote,
// before defaults. Every table and key signgate accepts is a field here;
// decoding rejects any other (unknown.go names the nearest known key).
type File struct {
	Daemon   DaemonSection          `toml:"daemon"`
	Registry RegistrySection        `toml:"registry"`
	Cache    CacheSection           `toml:"cache"`
	KMS      KMSSection             `toml:"kms"`
	Keys     map[string]KeySection  `toml:"keys"`
	Certs    map[string]CertSection `toml:"certs"`
	// Keyless: Sigstore trust roots, and the identities signing under them.
	TrustRoots map[string]TrustRootSection `toml:"trust_roots"`
	Identities map[string]IdentitySection  `toml:"identities"`
	Policy     []PolicySection             `toml:"policy"`
	// NotationPlugins: the verification plugins signatures may name.
	NotationPlugins map[string]NotationPluginSection `toml:"notation_plugins"`
	// PolicySource: the policy signed and published, not written here.
	PolicySource *PolicySourceSection `toml:"policy_source"`
	// Delegations go into the policy artifact built from this file
	// (signgate policy build); a node reads none from its own file.
	Delegations map[string]DelegationSection `toml:"delegations"`
	// Hooks: the host programs other NRI plugins' hooks may run (hooks.go).
	Hooks *HooksSection `toml:"hooks"`
	// AddedMounts: the host directories other NRI plugins may bind (addedmounts.go).
	AddedMounts *AddedMountsSection `toml:"added_mounts"`
}

// TrustRootSection is [trust_roots.NAME]: a Sigstore trusted_root.json, read
// from a file or kept from a TUF repository.
type TrustRootSection struct {
	Path      string `toml:"path"`       // a trusted_root.json
	TUFMirror string `toml:"tuf_mirror"` // or a TUF repository publishing one
	TUFRoot   string `toml:"tuf_root"`   // the repository's pinned initial root.json
	Refresh   string `toml:"refresh"`    // how often to update from it
	// MaxStaleness: how long after the last verified update it is trusted;
	// by default, until the TUF metadata of that update expires.
	MaxStaleness string `toml:"max_staleness"`
}

// IdentitySection is [identities.NAME]: who may sign keyless, under which
// trust root.
type IdentitySection struct {
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

// DaemonSection is [daemon]; Daemon is it with defaults applied.
type DaemonSection struct {
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
	ProveInterval       string   `toml:"prove_interval"`
	ProveImage          string   `toml:"prove_image"`

	AllowCheckpointRestore bool           `toml:"allow_checkpoint_restore"`
	Runtime                RuntimeSection `toml:"runtime"`
}

// RegistrySection is [registry]; Registry is it with defaults applied.
type RegistrySection struct {
	HostsDir         string `toml:"hosts_dir"`
	DockerConfig     string `toml:"docker_config"`
	VerifyTimeout    string `toml:"verify_timeout"`
	MaxManifestBytes int64  `toml:"max_manifest_bytes"`
	MaxBlobBytes     int64  `toml:"max_blob_bytes"`
	// What the referrers listings of all verifications in flight may hold.
	MaxReferrersBytes int64 `toml:"max_referrers_bytes"`
	MaxSignatures     int64 `toml:"max_signatures"` // objects fetched per listing
	// The kubelet's image credential provider plugins.
	CredentialProviders CredentialProvidersSection `toml:"credential_providers"`
	PodPullSecrets      PodPullSecretsSection      `toml:"pod_pull_secrets"`
}

// CacheSection is [cache]: how long verdicts are reused.
type CacheSection struct {
	AllowTTL   string `toml:"allow_ttl"`
	DenyTTL    string `toml:"deny_ttl"`
	MaxEntries int    `toml:"max_entries"`
}

// KeySection is [keys.NAME]: a public key given inline (pem), in a file
// (path) or held in a KMS (kms, with version and grace_period).
type KeySection struct {
	PEM         string `toml:"pem"`
	Path        string `toml:"path"`
	KMS         string `toml:"kms"`
	Version     string `toml:"version"`
	GracePeriod string `toml:"grace_period"`
}

// KMSSection is [kms]: how KMS keys are synced, and each provider's
// connection settings.
type KMSSection struct {
	SyncInterval   string          `toml:"sync_interval"`
	GracePeriod    string          `toml:"grace_period"`
	MaxStaleness   string          `toml:"max_staleness"`
	RequestTimeout string          `toml:"request_timeout"`
	AWS            KMSAWSSection   `toml:"aws"`
	GCP            KMSGCPSection   `toml:"gcp"`
	Azure          KMSAzureSection `toml:"azure"`
	Vault          KMSVaultSection `toml:"vault"`
}

// KMSAWSSection is [kms.aws].
type KMSAWSSection struct {
	Endpoint string `toml:"endpoint"`
	Region   string `toml:"region"`
	CAFile   string `toml:"ca_file"`
}

// KMSGCPSection is [kms.gcp].
type KMSGCPSection struct {
	Endpoint string `toml:"endpoint"`
	CAFile   string `toml:"ca_file"`
	Insecure bool   `toml:"insecure"`
}

// KMSAzureSection is [kms.azure].
type KMSAzureSection struct {
	CAFile string `toml:"ca_file"`
}

// KMSVaultSection is [kms.vault].
type KMSVaultSection struct {
	Address     string `toml:"address"`
	TokenFile   string `toml:"token_file"`
	TransitPath string `toml:"transit_path"`
	CAFile      string `toml:"ca_file"`
}

// CertSection is [certs.NAME]: a Notation trust anchor ("ca"), a
// signing authority's root ("signing_authority") or a timestamping root
// ("tsa"), inline or in a file.
type CertSection struct {
	Kind string `toml:"kind"`
	PEM  string `toml:"pem"`
	Path string `toml:"path"`
}

// PolicySection is one [[policy]]: which images (scopes, namespaces) it
// governs, and what it requires of them.
type PolicySection struct {
	Name       string           `toml:"name"`
	Scopes     []string         `toml:"scopes"`
	Mode       string           `toml:"mode"`
	Namespaces []string         `toml:"namespaces"`
	Signatures string           `toml:"signatures"`
	Cosign     *CosignSection   `toml:"cosign"`
	Notation   *NotationSection `toml:"notation"`
	// Attestation is written [[policy.attestation]], one table each.
	Attestation []AttestationSection `toml:"attestation"`
	// Whose signatures count for an index: verify.SignedManifest.
	SignedManifest string `toml:"signed_manifest"`
	// What happens to a running container this policy no longer trusts.
	OnUntrustedRunning string `toml:"on_untrusted_running"` // see running.go
	StopConfirm        string `toml:"stop_confirm"`         // see running.go

	StopUnansweredAfter string `toml:"stop_unanswered_after"` // see running_unanswered.go
	// Floor: in a policy artifact, matched before any tenant's delegated
	// policies (policysource.go).
	Floor bool `toml:"floor"`
	// Reason: why a deny policy signgate wrote denies; never read from a file.
	Reason string `toml:"-"`
}

// AttestationSection is one [[policy.attestation]].
type AttestationSection struct {
	Name               string   `toml:"name"`
	Type               string   `toml:"type"`
	Keys               []string `toml:"keys"`
	Identities         []string `toml:"identities"`
	Require            Rule     `toml:"require"`
	Tlog               string   `toml:"tlog"`
	TlogRoot           string   `toml:"tlog_root"`
	Builders           []string `toml:"builders"`
	SourceRepositories []string `toml:"source_repositories"`
	MaxAge             string   `toml:"max_age"`
	Conditions         []string `toml:"conditions"`
}

// NotationSection is [policy.notation]. Identities are notation's trusted
// identities (x509 subjects, signing profiles), not [identities] keyless
// signers: hence the key's name, trusted_identities.
type NotationSection struct {
	Certs           []string `toml:"certs"`
	TSA             []string `toml:"tsa"`
	Identities      []string `toml:"trusted_identities"`
	Level           string   `toml:"level"`
	Revocation      string   `toml:"revocation"`
	VerifyTimestamp string   `toml:"verify_timestamp"`
	Require         Rule     `toml:"require"`
}

// CosignSection is [policy.cosign].
type CosignSection struct {
	Keys           []string `toml:"keys"`
	Identities     []string `toml:"identities"`
	Require        Rule     `toml:"require"`
	EverySignature bool     `toml:"every_signature"`
	Tlog           string   `toml:"tlog"`
	TlogRoot       string   `toml:"tlog_root"`
}

// Rule is a threshold as written: "any", "all", or a count, which the docs
// call "a number N" and so may be a TOML integer (require = 2) or a string.
type Rule string

// UnmarshalTOML takes a string or an integer.
func (r *Rule) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		*r = Rule(x)
	case int64:
		*r = Rule(strconv.FormatInt(x, 10))
	default:
		return fmt.Errorf(`require = %v: want "any", "all" or a count such as 2`, v)
	}
	return nil
}
