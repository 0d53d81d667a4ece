package config

import "time"

// The defaults signgate applies to its config keys are here: the packages
// that take these settings (verify, registry, localapi) use these constants
// for their own zero values, so a default changed here changes everywhere,
// and docs/config.md has one place to be checked against. Two live with the
// code they bound: prove.DefaultImage ([daemon] prove_image) and
// verify.MaxRenewedAge (the 24h cap on renewing a verdict, no key).

// DefaultPath is where the daemon and every command look for the config.
const DefaultPath = "/etc/signgate/config.toml"

// [daemon]
const (
	DefaultNRISocket           = "/var/run/nri/nri.sock"
	DefaultPluginName          = "signgate"
	DefaultPluginIndex         = "10"
	DefaultContainerdSocket    = "/run/containerd/containerd.sock"
	DefaultContainerdNamespace = "k8s.io"
	DefaultDecisionDeadline    = 1500 * time.Millisecond
	DefaultStateDir            = "/var/lib/signgate"
	DefaultSnapshotter         = "overlayfs"
	// DefaultAPISocket is where the daemon answers the image verifier.
	DefaultAPISocket        = "/run/signgate/signgate.sock"
	DefaultPreverifyWorkers = 2
	// DefaultMetricsAddress serves metrics and health on loopback only.
	DefaultMetricsAddress = "127.0.0.1:9464"
	// Preverify and annotate are on unless set to false.
	DefaultPreverify = true
	DefaultAnnotate  = false // opt-in: containerd applying them costs a creation more than signgate's own handling (issue 29)
)

// [daemon.runtime]: containerd, or CRI-O with containers/storage's own
// defaults (storage.conf).
const (
	DefaultRuntime            = RuntimeContainerd
	DefaultCRIOStorageRoot    = "/var/lib/containers/storage"
	DefaultCRIOStorageRunRoot = "/run/containers/storage"
	DefaultCRIOStorageDriver  = "overlay"
	// CRI-O's own defaults for --config and --config-dir.
	DefaultCRIOConfig    = "/etc/crio/crio.conf"
	DefaultCRIOConfigDir = "/etc/crio/crio.conf.d"
)

// [registry]: signatures and their manifests are small; real ones are a few
// KiB. The referrers budget is room for four listings at the per-listing
// cap at once.
const (
	DefaultVerifyTimeout     = 10 * time.Second
	DefaultMaxManifestBytes  = 4 << 20
	DefaultMaxBlobBytes      = 4 << 20
	DefaultMaxReferrersBytes = 16 << 20
	// DefaultMaxSignatures: the signature or attestation objects one
	// listing may ask a verification to fetch. Real images carry a handful;
	// this leaves room for months of per-build attestations.
	DefaultMaxSignatures = 100
	// DefaultCredentialExecTimeout bounds one kubelet credential provider run.
	DefaultCredentialExecTimeout = 10 * time.Second
	// [registry.pod_pull_secrets]: a pod's lookups (a GET of the pod and
	// of each secret) within the decision's deadline; a secret read is
	// used for a minute before it is read again.
	DefaultPodSecretsTimeout = time.Second
	DefaultPodSecretsRefresh = time.Minute
	// A pod may name any number of pull secrets; the first this many
	// (its own, then its service account's) are read.
	DefaultPodSecretsMaxNames = 32
)

// [cache]
const (
	DefaultAllowTTL   = 10 * time.Minute
	DefaultDenyTTL    = 10 * time.Second // short, so a fixed image is picked up
	DefaultMaxEntries = 10000
)

// [kms]
const (
	DefaultKMSSyncInterval   = 5 * time.Minute
	DefaultKMSRequestTimeout = 10 * time.Second
	DefaultKMSGracePeriod    = 24 * time.Hour
)

// [trust_roots.NAME], [certs.NAME] and [[policy]]
const (
	DefaultTrustRootRefresh = 24 * time.Hour
	DefaultCertKind         = "ca"
	DefaultMode             = "enforce"
	DefaultNotationLevel    = "strict"
	// DefaultStopConfirm: how long apart two judgements must see the same
	// final denial of a running container before "stop" acts on it.
	DefaultStopConfirm = time.Minute
)

// [notation_plugins.NAME]: a run within a verification (which runs a
// plugin twice: its metadata, then the signature), like an OCSP request;
// its answers are reused as a fetched CRL is, for minutes.
const (
	DefaultNotationPluginTimeout  = 2 * time.Second
	DefaultNotationPluginCacheTTL = 5 * time.Minute
	// MaxNotationPluginCacheTTL bounds how long a revoked signing profile
	// can still be believed valid on a node (plus cache.allow_ttl).
	MaxNotationPluginCacheTTL = time.Hour
)

// [policy_source]
const (
	DefaultPolicyRefresh = 5 * time.Minute
	// DefaultPolicyMaxStaleness: how long the policy in force may go
	// without its source confirming it before it is stale. The one place
	// it is set: docs/config.md and the chart refer here.
	DefaultPolicyMaxStaleness = 24 * time.Hour
	// DefaultPolicyBuildExpires: the expiry `signgate policy build` signs
	// into a policy unless told: nodes refuse one without (a freeze).
	DefaultPolicyBuildExpires = 30 * 24 * time.Hour
	// DefaultPolicyMaxValidity: how far past the node's clock a policy's
	// signed expires may lie. An expiry in 2100 is as freezable as none;
	// 90 days leaves three default build periods of slack for a release
	// process, and bounds how long a leaked or frozen policy can be served.
	DefaultPolicyMaxValidity = 90 * 24 * time.Hour
	// PolicyMediaType is the one layer of a policy artifact: the TOML of
	// the sections it carries. PolicyArtifactType is the manifest's
	// artifactType and config media type.
	PolicyMediaType    = "application/vnd.signgate.policy.v1+toml"
	PolicyArtifactType = "application/vnd.signgate.policy.config.v1+json"
)
