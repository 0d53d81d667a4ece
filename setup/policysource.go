package setup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// SourcePolicyName is the name of the one policy the source's signers are
// compiled into: the policy artifact is verified as an image under it.
const SourcePolicyName = "policy_source"

// Source is a config's [policy_source] compiled: the local file with the
// source's signers as its one policy (what verifies the artifact), and the
// policy in force, last verified and kept in the state directory.
type Source struct {
	*config.PolicySource
	Boot *Config
	// Kept is the policy in force; nil before the first was verified (then
	// no policy matches, and every image is denied).
	Kept *policysource.Kept
	// KeptError says why a kept policy was not used: a state file that
	// failed its checks, or a policy that no longer compiles.
	KeptError error
	// Signers fingerprints the source's signers (signersID); a kept
	// policy records the fingerprint it was verified under.
	Signers string
	// Material lists each key, certificate and identity of the signers
	// (signerMaterial); a kept policy records it.
	Material []string
	// Floor is a kept policy from this source set aside though not for
	// its signers (kept by an older signgate with no signers record, or
	// one that no longer compiles or lacks expires): never in force, but
	// a policy whose serial is not above its serial is refused as a
	// rollback until one is taken.
	Floor *policysource.Kept
	// TenantsError says which kept tenants' fragments were set aside
	// because they do not compile with the root and the others.
	TenantsError error
}

// Stale says whether the policy in force k, last confirmed by its source
// at verified, was so longer than max_staleness before now, or is past
// the expires it was signed with (a registry can freeze a policy by
// serving it on, but cannot extend its signed expiry).
func (s *Source) Stale(k *policysource.Kept, verified, now time.Time) bool {
	return (s.MaxStaleness > 0 && now.Sub(verified) > s.MaxStaleness) || Expired(k, now)
}

// Expired says whether k is past its signed expires at now.
func Expired(k *policysource.Kept, now time.Time) bool {
	return k != nil && !k.Expires.IsZero() && !now.Before(k.Expires)
}

// compileSourced compiles a config whose policy comes from [policy_source]:
// the bootstrap first (an error there is the file's), then the kept policy
// composed into it. A kept policy that fails is set aside, named, and the
// node runs with no policy: every image denied.
func compileSourced(cc *config.Config, p *config.Problems) (*Config, error) {
	// A directory is served on a port known only when it is read: the
	// source's engine verifies nothing else, so its one policy takes all.
	scope := "**"
	if cc.PolicySource.Path == "" {
		var err error
		if scope, err = policysource.Scope(cc.PolicySource.Reference); err != nil {
			p.Errorf("%v", err)
		}
	}
	boot := *cc
	boot.File.Policy = []config.PolicySection{{Name: SourcePolicyName, Scopes: []string{scope}, Mode: "enforce",
		Signatures: cc.PolicySource.Section.Signatures, Cosign: cc.PolicySource.Section.Cosign, Notation: cc.PolicySource.Section.Notation}}
	bc, err := compileFile(&boot, p)
	if err != nil {
		return nil, err
	}
	for _, k := range bc.KMSKeys {
		// The signers are read once at start, before any KMS sync.
		return nil, fmt.Errorf("%s: keys.%s: the policy source's signers are keys given by pem or path, not kms", cc.Path, k.Name)
	}
	src := &Source{PolicySource: cc.PolicySource, Boot: bc, Signers: signersID(cc, bc), Material: signerMaterial(cc, bc)}
	kept, err := policysource.ReadKept(cc.Daemon.StateDir)
	if err != nil {
		src.KeptError = err
	} else if kept != nil && kept.Reference != cc.PolicySource.Reference {
		src.KeptError = fmt.Errorf("the kept policy %s came from %s, not policy_source.reference %s", kept.Digest, kept.Reference, cc.PolicySource.Reference)
	} else if kept != nil && kept.Digest != "" && kept.Signers == "" {
		// Kept by a signgate that recorded no signers: not trusted, but
		// its serial still bounds what the source may serve.
		src.Floor = kept
		src.KeptError = fmt.Errorf("the kept policy %s (serial %d) was kept by a signgate that did not record its signers: set aside until the source is verified again, and a serial not above %d is refused meanwhile (if the signers changed since, remove %s)", kept.Digest, kept.Serial, kept.Serial, policysource.Path(cc.Daemon.StateDir))
	} else if kept != nil && kept.Digest != "" && kept.Signers != src.Signers && kept.Signers != signersIDV2(cc, bc) && kept.Signers != legacySignersID(cc, bc) {
		src.KeptError = fmt.Errorf("the kept policy %s was verified by other signers than policy_source's now (its keys, certificates or rule changed): set aside until the source is verified again", kept.Digest)
		if sharesSigner(kept.SignerMaterial, src.Material) {
			// A signer that stays may have signed older policies: one
			// dropped because it leaked must not open a rollback to them.
			src.Floor = kept
			src.KeptError = fmt.Errorf("%w; a signer it may have been verified by remains, so a serial not above %d is refused meanwhile (if the source's serials restarted, remove %s)", src.KeptError, kept.Serial, policysource.Path(cc.Daemon.StateDir))
		}
	} else if kept != nil && kept.Digest != "" && kept.Serial < cc.PolicySource.MinSerial {
		src.KeptError = fmt.Errorf("the kept policy %s has serial %d, below policy_source.min_serial (%d)", kept.Digest, kept.Serial, cc.PolicySource.MinSerial)
	} else if kept != nil && kept.Digest == "" {
		// Only refusals were kept: no policy was ever verified.
	} else if kept != nil {
		tenants, expired := unexpiredTenants(kept.Tenants, time.Now())
		c, in, dropped, err := FitTenants(cc, []byte(kept.Body), tenants, nil, kept.Digest)
		if err == nil && len(expired) > 0 {
			if dropped == nil {
				dropped = map[string]error{}
			}
			maps.Copy(dropped, expired)
		}
		if err == nil {
			f, perr := config.ParseFragment("policy "+kept.Digest, []byte(kept.Body))
			if perr == nil && !f.Expires.Equal(kept.Expires) {
				k := *kept // the signed body says, not an older state file
				k.Expires = f.Expires
				kept = &k
			}
			if perr == nil {
				// Kept before expires was required, or under the opt-out.
				// Or kept by a release before max_validity bounded it.
				perr = policysource.CheckFragmentExpires(cc.PolicySource.Reference, kept.Digest, f, cc.PolicySource.AllowNoExpires, cc.PolicySource.MaxValidity, time.Now(), kept.Issued, cc.Path)
			}
			if perr != nil {
				src.KeptError, src.Floor = perr, kept
				return composeNone(cc, src)
			}
			absent := absences(kept, dropped)
			explainNoFragment(c, f, absent)
			if len(dropped) > 0 {
				k := *kept
				k.Tenants, k.Absent = in, absent
				kept = &k
				for _, n := range sortedKeys(dropped) {
					src.TenantsError = errors.Join(src.TenantsError, dropped[n])
				}
			}
			src.Kept = kept
			c.Source = src
			return c, nil
		}
		// Verified by these signers: its serial still bounds the source.
		src.KeptError, src.Floor = err, kept
	}
	return composeNone(cc, src)
}

// composeNone is the node with no policy in force: every image denied.
func composeNone(cc *config.Config, src *Source) (*Config, error) {
	c, err := Compose(cc, nil, "none")
	if err != nil {
		return nil, err
	}
	c.Source = src
	return c, nil
}

// Compose compiles local (a config with [policy_source]) with the policy
// artifact body in place of its keys, certificates, trust roots,
// identities and policies; nil body for none. digest names the artifact.
func Compose(local *config.Config, body []byte, digest string) (*Config, error) {
	return ComposeTenants(local, body, nil, digest)
}

// ComposeTenants is Compose with the tenants' fragments its delegations
// verified, each checked against its delegation again.
func ComposeTenants(local *config.Config, body []byte, tenants map[string]*policysource.Tenant, digest string) (*Config, error) {
	frag := &config.Fragment{}
	if body != nil {
		var err error
		if frag, err = config.ParseFragment("policy "+digest, body); err != nil {
			return nil, err
		}
		if err := policysource.CheckDelegations(frag); err != nil {
			return nil, fmt.Errorf("policy %s: %w", digest, err)
		}
	}
	tf := map[string]*config.Fragment{}
	id := digest
	for _, n := range sortedKeys(tenants) {
		t := tenants[n]
		f, err := config.ParseFragment(fmt.Sprintf("delegation %q policy %s", n, t.Digest), []byte(t.Body))
		if err != nil {
			return nil, err
		}
		if err := policysource.CheckTenantSigners(frag, n, t); err != nil {
			return nil, err
		}
		tf[n] = f
		id += "+" + n + "=" + t.Digest
	}
	merged, err := policysource.Merge(frag, tf)
	if err != nil {
		return nil, err
	}
	cc, p := config.Compose(local, merged, id)
	return compileFile(cc, p)
}

// DelegationEngine is the engine that verifies delegation name's
// fragment: the root fragment's keys, and one policy of the delegation's
// signers over its reference's repository.
func (s *Source) DelegationEngine(root *config.Fragment, name string, now func() time.Time) (*verify.Engine, *registry.Client, error) {
	d := root.Delegations[name]
	scope, err := policysource.Scope(d.Reference)
	if err != nil {
		return nil, nil, fmt.Errorf("delegations.%s: %w", name, err)
	}
	cc := *s.Boot.Config
	cc.File.Keys, cc.File.Certs, cc.File.TrustRoots, cc.File.Identities = root.Keys, nil, nil, nil
	cc.File.Policy = []config.PolicySection{{Name: "delegation " + name, Scopes: []string{scope}, Mode: "enforce",
		Cosign: &config.CosignSection{Keys: d.Keys, Require: d.Require}}}
	p := &config.Problems{Path: s.Reference + " delegations." + name}
	c, err := compileFile(&cc, p)
	if err != nil {
		return nil, nil, err
	}
	return (&Source{Boot: c}).SourceEngine(now)
}

// SourceEngine is the engine and registry client that verify the policy
// artifact: the bootstrap's keys, its one policy, and nothing cached.
func (s *Source) SourceEngine(now func() time.Time) (*verify.Engine, *registry.Client, error) {
	snap, err := s.Boot.Snapshot(context.Background())
	if err != nil {
		return nil, nil, err
	}
	reg, err := registry.New(s.Boot.RegistryConfig())
	if err != nil {
		return nil, nil, err
	}
	opts := s.Boot.EngineOptions(nil)
	opts.Now = now
	opts.DenyTTL, opts.AllowTTL = time.Nanosecond, time.Nanosecond
	return verify.NewEngine(snap, reg, opts), reg, nil
}

// sourceWarnings: a node without a verified policy denies every image; a
// kept policy set aside is named.
func (c *Config) sourceWarnings() []string {
	s := c.Source
	if s == nil {
		return nil
	}
	var out []string
	if s.KeptError != nil {
		out = append(out, fmt.Sprintf("policy_source: the kept policy is not used: %v", s.KeptError))
	}
	if s.Kept != nil {
		// Those set aside at start (TenantsError) among them, saying why.
		for _, n := range sortedKeys(s.Kept.Absent) {
			if a := s.Kept.Absent[n]; a != nil {
				out = append(out, fmt.Sprintf("policy_source: delegation %q has no fragment from %s in force (%s): the images it delegates are denied until its tenant publishes one that verifies", n, a.Reference, a.Why))
			}
		}
	}
	if s.Kept == nil {
		out = append(out, fmt.Sprintf("policy_source: no policy from %s has been verified yet: every image is denied until one is", s.Reference))
	} else if Expired(s.Kept, time.Now()) {
		out = append(out, fmt.Sprintf("policy_source: the policy in force (serial %d) expired at %s (its signed expires)", s.Kept.Serial, s.Kept.Expires.UTC().Format(time.RFC3339)))
	} else if s.Stale(s.Kept, s.Kept.Verified, time.Now()) {
		out = append(out, fmt.Sprintf("policy_source: the policy in force (serial %d) was last confirmed by %s at %s, longer ago than max_staleness (%s)", s.Kept.Serial, s.Reference, s.Kept.Verified.UTC().Format(time.RFC3339), s.MaxStaleness))
	}
	return out
}

// unexpiredTenants is tenants without those past their signed expires at
// now, and why each of those was dropped: a kept fragment is no more
// trusted across a restart than it was signed for.
func unexpiredTenants(tenants map[string]*policysource.Tenant, now time.Time) (map[string]*policysource.Tenant, map[string]error) {
	if len(tenants) == 0 {
		return tenants, nil
	}
	var expired map[string]error
	out := map[string]*policysource.Tenant{}
	for n, t := range tenants {
		if t.Expired(now) {
			if expired == nil {
				expired = map[string]error{}
			}
			expired[n] = policysource.TenantExpiredError(n, t)
			continue
		}
		out[n] = t
	}
	return out, expired
}
