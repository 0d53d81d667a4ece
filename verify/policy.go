package verify

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Mode says what a policy does with an image it governs.
type Mode string

const (
	// Enforce verifies and denies an image that does not meet the requirements.
	Enforce Mode = "enforce"
	// Audit verifies and logs the verdict, but always allows.
	Audit Mode = "audit"
	// Allow admits the image without verification (the sandbox image, say).
	Allow Mode = "allow"
	// DenyMode refuses the image without verification: a registry blocked, or
	// a delegation whose tenant has no fragment in force.
	DenyMode Mode = "deny"
)

// Policy governs the images whose repository matches one of its scopes.
type Policy struct {
	Name   string
	Scopes []Scope
	Mode   Mode
	// Namespaces, when set, limits the policy to pods in these Kubernetes
	// namespaces; images outside them fall through to later policies.
	Namespaces []string
	Cosign     *CosignRequirement
	Notation   *NotationRequirement
	// Signatures says how the kinds combine when both are required: Both
	// (the default) or Either.
	Signatures Combine
	// Attestations are required on top of the signatures: every one of
	// them, whatever Signatures says.
	Attestations []*AttestationRequirement
	// SignedManifest says whose signatures count for an index: its own,
	// the platform manifest's that runs, or either (the default).
	SignedManifest SignedManifest
	// Reason says why a deny policy denies when signgate wrote it (a
	// delegation without a fragment in force); "" for a user's own.
	Reason string
}

// Combine says how a policy's signature kinds combine.
type Combine string

// How kinds combine.
const (
	Both   Combine = "both"
	Either Combine = "either"
)

// NotationRequirement says which Notary Project signatures an image must carry.
type NotationRequirement struct {
	Roots      []string // certificate names (kind "ca") signing chains must end in
	TSA        []string // certificate names (kind "tsa") for RFC 3161 timestamps
	Identities []string // trusted identities: "x509.subject: C=US, O=..." or "*"
	Level      string   // strict, permissive, audit or skip (notation's levels)
	// Revocation overrides what the level does with revocation checks:
	// "enforce" (a revoked certificate, or a responder that cannot be
	// reached, fails) or "log" (logged and accepted). "" keeps the level's.
	Revocation string
	// AfterCertExpiry checks timestamps only once the signing certificate
	// has expired; otherwise (notation's "always"), with TSA roots listed,
	// every signature must carry a trusted timestamp.
	AfterCertExpiry bool
	// Threshold is how many distinct listed roots must each verify at least
	// one signature: 1 for "any", len(Roots) for "all", N for a count.
	Threshold int
}

// Rule describes the threshold the way a user wrote it.
func (r *NotationRequirement) Rule() string { return rule(r.Threshold, r.Roots) }

// CosignRequirement says which cosign signatures an image must carry.
type CosignRequirement struct {
	Keys []string // names in the keystore
	// Threshold is how many distinct listed keys must each verify at least one
	// signature: 1 for "any", len(Keys) for "all", N for a count.
	Threshold int
	// EverySignature additionally requires that every cosign signature found on
	// the image verifies with some listed key: one stray signature denies.
	EverySignature bool
	// Identities are keyless signers (names of Identity); each counts
	// toward Threshold as a key does.
	Identities []string
	// Tlog: what keyless signatures must show of the transparency log,
	// and key signatures too when TlogRoot names whose log.
	Tlog Tlog
	// TlogRoot is the trust root whose Rekor logs key signatures' entries
	// are checked against; "" checks key signatures against the key alone.
	TlogRoot string
}

// Signers lists the keys, then the identities: everything Threshold counts.
func (r *CosignRequirement) Signers() []string {
	if len(r.Identities) == 0 {
		return r.Keys
	}
	return append(append(make([]string, 0, len(r.Keys)+len(r.Identities)), r.Keys...), r.Identities...)
}

// ParseThreshold turns "any", "all" or a count into a threshold for nkeys keys.
func ParseThreshold(rule string, nkeys int) (int, error) {
	switch rule {
	case "", "any":
		return 1, nil
	case "all":
		return nkeys, nil
	}
	n, err := strconv.Atoi(rule)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("require = %q: want \"any\", \"all\" or a count of keys from 1 up", rule)
	}
	if n > nkeys {
		return 0, fmt.Errorf("require = %d but only %d keys are listed, so no image could pass", n, nkeys)
	}
	return n, nil
}

// Rule describes the threshold the way a user wrote it.
func (r *CosignRequirement) Rule() string { return rule(r.Threshold, r.Signers()) }

func rule(threshold int, names []string) string {
	switch {
	case threshold == len(names) && len(names) > 1:
		return fmt.Sprintf("all of %s", strings.Join(names, ", "))
	case threshold == 1:
		return fmt.Sprintf("any of %s", strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d of %s", threshold, strings.Join(names, ", "))
}

// Scope is a repository glob: "*" matches within one path segment, "**"
// matches across segments. "registry.example.com/team/*" matches
// registry.example.com/team/app but not registry.example.com/team/a/b;
// "*.example.com/**" matches any repository on any subdomain of example.com.
type Scope struct {
	Pattern string
	re      *regexp.Regexp
}

// ParseScope compiles a scope pattern.
func ParseScope(pattern string) (Scope, error) {
	// An IPv6 registry's brackets are not glob syntax: CanonicalHost
	// checks that registry.
	checked := pattern
	if reg, rest, ok := strings.Cut(pattern, "/"); ok && strings.HasPrefix(reg, "[") {
		checked = rest
	}
	switch {
	case pattern == "":
		return Scope{}, fmt.Errorf("empty scope")
	case strings.ContainsAny(checked, "@?[]{}\\ %"):
		// No name holds a '%' (containerd's parser refuses escapes).
		return Scope{}, fmt.Errorf("scope %q: only '*' and '**' are special; tags, digests, escapes and other glob syntax are not allowed", pattern)
	case strings.Contains(pattern, "***"):
		return Scope{}, fmt.Errorf("scope %q: '***' is ambiguous; use '*' or '**'", pattern)
	}
	if !strings.HasPrefix(pattern, "*") && !strings.Contains(pattern, "/") && pattern != "**" {
		return Scope{}, fmt.Errorf("scope %q: give the registry and repository, e.g. %q", pattern, "registry.example.com/"+pattern)
	}
	written := pattern
	pattern, err := normalizeScope(pattern)
	if err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", written, err)
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case pattern[i] == '*':
			b.WriteString("[^/]*")
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", written, err)
	}
	return Scope{Pattern: written, re: re}, nil
}

// Matches reports whether repo (as from CanonicalRepo) is in the scope.
func (s Scope) Matches(repo string) bool { return s.re.MatchString(repo) }

// Policies is the ordered policy list. The first policy, in file order, with a
// scope matching the image (and, if it names namespaces, the pod's namespace)
// governs it, like firewall rules: put narrow policies before broad ones. An
// image no policy matches is denied.
type Policies []Policy

// Match returns the governing policy, or nil.
func (ps Policies) Match(repo, namespace string) *Policy {
	for i := range ps {
		p := &ps[i]
		if len(p.Namespaces) > 0 && !contains(p.Namespaces, namespace) {
			continue
		}
		for _, s := range p.Scopes {
			if s.Matches(repo) {
				return p
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ErrInvalidPolicy is the family of a policy's own problems, each a
// *PolicyError naming the field.
var ErrInvalidPolicy = errors.New("invalid policy")

// PolicyError is one problem with a policy, at a field ("mode",
// "cosign.keys"); "" for the policy as a whole.
type PolicyError struct {
	Field   string
	Problem string
	Err     error // a more specific cause, if any (ErrLevelNotVerifying)
}

// Error reads as a suffix to where the policy is ("policy[0] \"p\""), so a
// config can prefix it with the file and the policy.
func (e *PolicyError) Error() string {
	if e.Field == "" {
		return ": " + e.Problem
	}
	return "." + e.Field + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalidPolicy) true, and the cause's.
func (e *PolicyError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrInvalidPolicy, e.Err}
	}
	return []error{ErrInvalidPolicy}
}

// Validate checks the policy on its own terms, as the engine relies on
// them: the config loader reports these with the file and the policy, and
// the engine denies under a policy that fails them. It returns every
// problem found.
func (p *Policy) Validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &PolicyError{Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if p.Name == "" {
		bad("", "name is required")
	}
	if len(p.Scopes) == 0 {
		bad("", `scopes is required (e.g. ["registry.example.com/team/*"])`)
	}
	switch p.Mode {
	case Enforce, Audit:
		if p.Cosign == nil && p.Notation == nil && len(p.Attestations) == 0 {
			bad("", `mode %q verifies, so it needs a [policy.cosign], [policy.notation] or [[policy.attestation]] requirement (or use mode = "allow")`, p.Mode)
		}
	case Allow, DenyMode:
		if p.Cosign != nil || p.Notation != nil || len(p.Attestations) > 0 {
			bad("", `mode %q skips verification, so its signature requirements would be ignored; remove them`, p.Mode)
		}
	default:
		bad(fmt.Sprintf("mode = %q", p.Mode), `want "enforce", "audit", "allow" or "deny"`)
	}
	if c := p.Cosign; c != nil {
		errs = append(errs, c.validate("cosign")...)
		if c.TlogRoot != "" && len(c.Keys) == 0 {
			bad("cosign.tlog_root", "checks key signatures' log entries, but the policy lists no keys")
		}
	}
	names := map[string]bool{}
	for i, a := range p.Attestations {
		at := fmt.Sprintf("attestation[%d]", i)
		switch {
		case a == nil:
			bad(at, "empty")
			continue
		case a.PredicateType == "":
			bad(at+".type", "is required (e.g. \"slsaprovenance1\" or a predicate type URI)")
		case a.Name == "":
			bad(at+".name", "is required")
		case names[a.Name]:
			bad(at+".name", "%q names two attestations; give each its own name", a.Name)
		}
		names[a.Name] = true
		errs = append(errs, a.Signers.validate(at)...)
		if a.Signers.EverySignature {
			bad(at+".every_signature", "applies to signatures only")
		}
		if a.Signers.TlogRoot != "" && len(a.Signers.Keys) == 0 {
			bad(at+".tlog_root", "checks key signatures' log entries, but the attestation lists no keys")
		}
	}
	if n := p.Notation; n != nil {
		if err := n.Validate(); err != nil {
			var pe *PolicyError
			if errors.As(err, &pe) {
				errs = append(errs, &PolicyError{Field: strings.TrimSuffix("notation."+pe.Field, "."), Problem: pe.Problem, Err: pe.Err})
			} else {
				bad("notation", "%v", err)
			}
		}
	}
	if err := p.SignedManifest.validate(); err != nil {
		errs = append(errs, err)
	}
	switch p.Signatures {
	case "", Both, Either:
		// Both is also the default, so only Either says something false.
		if p.Signatures == Either && (p.Cosign == nil || p.Notation == nil) {
			bad(fmt.Sprintf("signatures = %q", p.Signatures), "combines kinds, but the policy requires only one; give both [policy.cosign] and [policy.notation]")
		}
	default:
		bad(fmt.Sprintf("signatures = %q", p.Signatures), `want "both" or "either"`)
	}
	return errs
}

// validate checks who must sign (a signature, or an attestation at
// field) on its own terms.
func (c *CosignRequirement) validate(field string) []error {
	var errs []error
	bad := func(f, format string, args ...any) {
		errs = append(errs, &PolicyError{Field: field + "." + f, Problem: fmt.Sprintf(format, args...)})
	}
	if len(c.Keys) == 0 && len(c.Identities) == 0 {
		bad("keys", "list at least one key (or keyless identity)")
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		if seen[k] {
			bad("keys", "key %q is listed twice", k)
		}
		seen[k] = true
	}
	for _, k := range c.Identities {
		if seen[k] {
			bad("identities", "%q is listed twice (or is also a key's name)", k)
		}
		seen[k] = true
	}
	if n := len(c.Signers()); n > 0 && (c.Threshold < 1 || c.Threshold > n) {
		what := "keys"
		if len(c.Identities) > 0 {
			what = "keys and identities"
		}
		bad("require", "%d of %d %s can never be met", c.Threshold, n, what)
	}
	if _, err := ParseTlog(string(c.Tlog)); err != nil {
		bad("tlog", "%v", err)
	}
	return errs
}
