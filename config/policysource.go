package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// PolicySourceSection is [policy_source]: where the node's policy comes
// from, signed, instead of this file. The local file then keeps only what a
// node needs to bootstrap: [daemon], [registry], [cache], [kms], and the
// keys, certificates and trust roots the source's signers name.
type PolicySourceSection struct {
	Reference    string `toml:"reference"` // an OCI reference: registry/repo:tag or @digest
	Path         string `toml:"path"`      // or an OCI image layout directory (signgate policy export)
	Refresh      string `toml:"refresh"`
	MaxStaleness string `toml:"max_staleness"`
	OnStale      string `toml:"on_stale"` // "warn" or "deny"
	// MinSerial: the lowest serial this node takes, even with no policy
	// kept (a lost state file must not re-open a rollback).
	MinSerial int64 `toml:"min_serial"`
	// AllowNoExpiresUnsafe takes a policy signed without expires, which
	// whoever controls the registry or the path can serve forever (a
	// freeze): named so, as sigstore-go names its dangerous options.
	AllowNoExpiresUnsafe bool `toml:"allow_no_expires_unsafe"`
	// MaxValidity bounds how far past the node's clock a signed expires
	// may lie: one far ahead is as freezable as none.
	MaxValidity string `toml:"max_validity"`
	// Who must have signed it, written as for an image's [[policy]].
	Signatures string           `toml:"signatures"`
	Cosign     *CosignSection   `toml:"cosign"`
	Notation   *NotationSection `toml:"notation"`
}

// PolicySource is [policy_source] with defaults applied.
type PolicySource struct {
	// Reference names the source: the OCI reference, or "oci-layout:"
	// and Path for a directory.
	Reference    string
	Path         string
	Refresh      time.Duration
	MaxStaleness time.Duration // DefaultPolicyMaxStaleness unless set
	DenyStale    bool          // on_stale = "deny"
	MinSerial    int64         // 0: any positive serial
	// AllowNoExpires: allow_no_expires_unsafe; otherwise a policy without
	// a signed expires is refused.
	AllowNoExpires bool
	// MaxValidity: max_validity, DefaultPolicyMaxValidity unless set.
	MaxValidity time.Duration
	Section     PolicySourceSection
}

// MaxSerial is the highest serial a policy artifact may carry.
const MaxSerial = 1 << 53

// Fragment is what a policy artifact carries: the sections that replace
// the local file's, and the serial that must never go backwards.
type Fragment struct {
	Serial int64 `toml:"serial"`
	// Expires, signed with the rest: past it the policy is stale even
	// while the source keeps serving it (a frozen registry).
	Expires    time.Time                   `toml:"expires,omitempty"`
	Keys       map[string]KeySection       `toml:"keys"`
	Certs      map[string]CertSection      `toml:"certs"`
	TrustRoots map[string]TrustRootSection `toml:"trust_roots"`
	Identities map[string]IdentitySection  `toml:"identities"`
	Policy     []PolicySection             `toml:"policy"`
	// Delegations: namespaces handed to a tenant's own signed fragment.
	Delegations map[string]DelegationSection `toml:"delegations"`
	// Hooks: the host programs other NRI plugins' hooks may run; a
	// tenant's fragment carries none.
	Hooks *HooksSection `toml:"hooks,omitempty"`
	// AddedMounts: the host directories other NRI plugins' mounts may
	// bind; a tenant's fragment carries none.
	AddedMounts *AddedMountsSection `toml:"added_mounts,omitempty"`
}

// DelegationSection is [delegations.NAME] in a root policy artifact: the
// tenant's fragment at reference, signed as keys and require say (keys of
// the root's [keys]), may hold policies for these namespaces only, over
// images in these scopes only.
type DelegationSection struct {
	Reference  string   `toml:"reference"`
	Namespaces []string `toml:"namespaces"`
	Scopes     []string `toml:"scopes"`
	Keys       []string `toml:"keys"`
	Require    Rule     `toml:"require"`
}

// ParseFragment decodes a policy artifact's TOML strictly; what names it
// (the artifact's reference and digest) prefixes every error.
func ParseFragment(what string, data []byte) (*Fragment, error) {
	var f Fragment
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", what, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("%s: unknown key(s): %s (a policy artifact carries only serial, expires, keys, certs, trust_roots, identities, policy, delegations, hooks and added_mounts)", what, strings.Join(unknownKeys(string(data), und), ", "))
	}
	if err := checkExpiresOffset(what, string(data)); err != nil {
		return nil, err
	}
	if f.Serial <= 0 {
		return nil, fmt.Errorf("%s: serial = %d: a policy artifact needs a positive serial, raised on every publication", what, f.Serial)
	}
	if f.Serial > MaxSerial {
		// Near MaxInt64 nothing could follow it: one leaked signature
		// would freeze the node's policy.
		return nil, fmt.Errorf("%s: serial = %d: above 2^53; refused as malformed", what, f.Serial)
	}
	return &f, nil
}

func (c *Config) policySource(p *Problems, f File) *PolicySource {
	s := f.PolicySource
	if s == nil {
		return nil
	}
	out := &PolicySource{Reference: s.Reference, Section: *s,
		Refresh:      p.Duration("policy_source.refresh", s.Refresh, DefaultPolicyRefresh),
		MaxStaleness: p.Duration("policy_source.max_staleness", s.MaxStaleness, DefaultPolicyMaxStaleness),
		MaxValidity:  p.Duration("policy_source.max_validity", s.MaxValidity, DefaultPolicyMaxValidity)}
	// A default gives way to what the file sets: a refresh of a day, or a
	// staleness above 90 days, must not make a file that leaves the other
	// key unset invalid (it did, on upgrade, for configs the previous
	// release took). Only values the file sets can contradict each other.
	if s.MaxStaleness == "" {
		out.MaxStaleness = max(out.MaxStaleness, 2*out.Refresh)
	}
	if s.MaxValidity == "" {
		out.MaxValidity = max(out.MaxValidity, out.MaxStaleness)
	}
	switch {
	case s.Reference == "" && s.Path == "":
		p.Errorf("policy_source: give reference (the OCI reference the policy is published at) or path (an OCI image layout holding it)")
	case s.Reference != "" && s.Path != "":
		p.Errorf("policy_source: give reference or path, not both")
	case s.Path != "":
		out.Path = c.Resolve(s.Path)
		out.Reference = "oci-layout:" + out.Path
	}
	out.MinSerial = s.MinSerial
	out.AllowNoExpires = s.AllowNoExpiresUnsafe
	if s.MinSerial < 0 || s.MinSerial > MaxSerial {
		p.Errorf("policy_source.min_serial = %d: between 0 and 2^53", s.MinSerial)
	}
	switch s.OnStale {
	case "", "warn":
	case "deny":
		out.DenyStale = true
	default:
		p.Errorf("policy_source.on_stale = %q: want \"warn\" or \"deny\"", s.OnStale)
	}
	if out.Refresh < time.Second {
		p.Errorf("policy_source.refresh = %q: at least 1s", s.Refresh)
	}
	if out.MaxStaleness < 2*out.Refresh {
		p.Errorf("policy_source.max_staleness = %s: must be at least twice policy_source.refresh (%s), or one slow refresh makes the node stale", out.MaxStaleness, out.Refresh)
	}
	if out.MaxValidity < out.MaxStaleness {
		p.Errorf("policy_source.max_validity = %s: must be at least policy_source.max_staleness (%s), or every policy published is refused", out.MaxValidity, out.MaxStaleness)
	}
	if s.Cosign == nil && s.Notation == nil {
		p.Errorf("policy_source: give [policy_source.cosign] or [policy_source.notation]: who must have signed the policy")
	}
	if len(f.Policy) > 0 {
		p.Errorf("policy: the local file defines [[policy]], but [policy_source] gives the policy; keep only bootstrap settings here")
	}
	if len(f.Delegations) > 0 {
		p.Errorf("delegations: the local file defines [delegations], but [policy_source] gives the policy; delegations go in the artifact (signgate policy build --from)")
	}
	if f.Hooks != nil {
		// Which host programs run as root is policy: a local file
		// must not widen what the signed policy allows.
		p.Errorf("hooks: the local file defines [hooks], but [policy_source] gives the policy; hooks.allowed_programs goes in the artifact (signgate policy build --from)")
	}
	if f.AddedMounts != nil {
		// Which host directories a pod may be given is policy too.
		p.Errorf("added_mounts: the local file defines [added_mounts], but [policy_source] gives the policy; added_mounts.allowed_sources goes in the artifact (signgate policy build --from)")
	}
	return out
}

// Compose is local with the sections a verified policy artifact carries in
// place of its own: keys, certificates, trust roots, identities, policies,
// the programs hooks may run and the directories added mounts may bind.
// digest names the artifact; it joins the config's digest, so verdicts are
// bound to the policy in force.
func Compose(local *Config, frag *Fragment, digest string) (*Config, *Problems) {
	f := local.File
	f.PolicySource = nil // the composed config is checked as a plain one
	f.Keys, f.Certs, f.TrustRoots, f.Identities, f.Policy = frag.Keys, frag.Certs, frag.TrustRoots, frag.Identities, frag.Policy
	f.Delegations = nil              // the artifact's are fetched by the daemon, the file's never
	f.Hooks = frag.Hooks             // what other plugins' hooks may run; none unless it says
	f.AddedMounts = frag.AddedMounts // what other plugins may bind; none unless it says
	p := &Problems{Path: local.Path + " with policy " + digest}
	sum := sha256.Sum256([]byte(local.Digest + "|" + digest))
	c := build(p, local.Path, hex.EncodeToString(sum[:8]), f)
	c.File.PolicySource = local.File.PolicySource
	c.PolicySource = local.PolicySource
	return c, p
}
