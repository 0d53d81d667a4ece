package setup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/verify"
)

// validator compiles [[policy]] tables, adding what is wrong to the
// problems config found.
type validator struct{ *config.Problems }

// policies compiles every [[policy]], numbered (and named) in errors as
// check-config numbers them; material and certMaterial fingerprint the
// static keys and certificates by name, so one key listed under two names
// is refused.
func (c *Config) policies(p *config.Problems, f *config.File, certKinds, material, certMaterial map[string]string) {
	v := validator{p}
	if len(f.Policy) == 0 && f.PolicySource == nil {
		v.Errorf("no [[policy]] is defined, so every image would be denied")
	}
	seen := map[string]bool{}
	for i, ps := range f.Policy {
		at := fmt.Sprintf("policy[%d]", i)
		if ps.Name != "" {
			at = fmt.Sprintf("policy[%d] %q", i, ps.Name)
		}
		if pol, ok := v.policy(at, ps, f.Keys, f.Identities, f.TrustRoots, certKinds); ok {
			if seen[pol.Name] {
				v.Errorf("%s: the name is used by an earlier policy", at)
			}
			seen[pol.Name] = true
			if pol.Cosign != nil {
				v.sameMaterial(at+".cosign.keys", pol.Cosign.Keys, material, "key")
			}
			if pol.Notation != nil {
				v.sameMaterial(at+".notation.certs", pol.Notation.Roots, certMaterial, "certificate")
			}
			c.Policies = append(c.Policies, pol)
		}
	}
}

// policy builds a policy from its section: what only the file can tell
// (scope syntax, keys and certificates defined, how require is written),
// then the policy's own rules (verify.Policy.Validate).
func (v *validator) policy(at string, ps config.PolicySection, keys map[string]config.KeySection, ids map[string]config.IdentitySection, roots map[string]config.TrustRootSection, certs map[string]string) (verify.Policy, bool) {
	n := v.Len()
	p := verify.Policy{Name: ps.Name, Mode: verify.Mode(config.Or(ps.Mode, config.DefaultMode)), Namespaces: ps.Namespaces, Signatures: verify.Combine(ps.Signatures), SignedManifest: verify.SignedManifest(ps.SignedManifest), Reason: ps.Reason}
	for _, s := range ps.Scopes {
		// A tag would pass as a repository named "repo:v1" that no image
		// has: the policy would never match.
		if i := strings.LastIndex(s, "/"); i >= 0 && strings.ContainsAny(s[i+1:], ":@") {
			v.Errorf("%s.scopes: scope %q names a tag or digest, so it would never match: a scope matches repositories, whatever their tags; write %q", at, s, s[:i+1+strings.IndexAny(s[i+1:], ":@")])
			continue
		}
		sc, err := verify.ParseScope(s)
		if err != nil {
			v.Errorf("%s.scopes: %v", at, err)
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
		v.Errorf("%s%v", at, err)
	}
	if ps.Signatures == string(verify.Both) && (ps.Cosign == nil || ps.Notation == nil) {
		v.Errorf("%s.signatures = %q: combines kinds, but the policy requires only one; give both [policy.cosign] and [policy.notation]", at, ps.Signatures)
	}
	if p.Signatures == "" {
		p.Signatures = verify.Both
	}
	return p, v.Len() == n
}

// signers reads who must sign, for a signature or an attestation at at.
func (v *validator) signers(at string, keyNames, idNames []string, require config.Rule, tlog, tlogRoot string, keys map[string]config.KeySection, ids map[string]config.IdentitySection, roots map[string]config.TrustRootSection) *verify.CosignRequirement {
	for _, k := range keyNames {
		if _, ok := keys[k]; !ok {
			v.Errorf("%s.keys: key %q is not defined under [keys]", at, k)
		}
	}
	for _, k := range idNames {
		if _, ok := ids[k]; !ok {
			v.Errorf("%s.identities: identity %q is not defined under [identities]", at, k)
		}
	}
	n := len(keyNames) + len(idNames)
	th, err := verify.ParseThreshold(string(require), n)
	if err != nil && n > 0 {
		v.Errorf("%s.%v", at, err)
		th = 1
	}
	tl, err := verify.ParseTlog(tlog)
	if err != nil {
		v.Errorf("%s.%v", at, err)
	}
	if _, ok := roots[tlogRoot]; tlogRoot != "" && !ok {
		v.Errorf("%s.tlog_root = %q: not defined under [trust_roots]", at, tlogRoot)
	}
	return &verify.CosignRequirement{Keys: keyNames, Identities: idNames, Threshold: th, Tlog: tl, TlogRoot: tlogRoot}
}

// attestation reads one [[policy.attestation]]: its type, signers, and
// conditions, each compiled now so that a mistake names the file, policy
// and expression at load rather than denying at run time.
func (v *validator) attestation(at string, as config.AttestationSection, keys map[string]config.KeySection, ids map[string]config.IdentitySection, roots map[string]config.TrustRootSection) *verify.AttestationRequirement {
	req := &verify.AttestationRequirement{Name: config.Or(as.Name, as.Type)}
	req.Signers = *v.signers(at, as.Keys, as.Identities, as.Require, as.Tlog, as.TlogRoot, keys, ids, roots)
	if as.Type == "" {
		return req // the policy's own validation says so
	}
	pt, err := verify.ParsePredicateType(as.Type)
	if err != nil {
		v.Errorf("%s.%v", at, err)
		req.PredicateType = as.Type
		return req
	}
	req.PredicateType = pt
	slsa := pt == verify.PredicateSLSA1 || pt == verify.PredicateSLSA02
	if len(as.Builders) > 0 {
		if !slsa {
			v.Errorf("%s.builders: reads SLSA provenance, but type = %q is not SLSA provenance", at, as.Type)
		}
		req.Conditions = append(req.Conditions, verify.BuildersCondition(as.Builders))
	}
	if len(as.SourceRepositories) > 0 {
		if !slsa {
			v.Errorf("%s.source_repositories: reads SLSA provenance, but type = %q is not SLSA provenance", at, as.Type)
		}
		req.Conditions = append(req.Conditions, verify.SourceRepositoriesCondition(as.SourceRepositories))
	}
	if as.MaxAge != "" {
		d, err := time.ParseDuration(as.MaxAge)
		if err != nil || d <= 0 {
			v.Errorf("%s.max_age = %q: want a positive duration such as \"168h\"", at, as.MaxAge)
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
			v.Errorf("%s.conditions[%d] %q: %v", at, i, expr, err)
			continue
		}
		req.Conditions = append(req.Conditions, c)
	}
	return req
}

func (v *validator) notation(at string, ns *config.NotationSection, certs map[string]string) *verify.NotationRequirement {
	req := &verify.NotationRequirement{Roots: ns.Certs, TSA: ns.TSA, Identities: ns.Identities, Level: config.Or(ns.Level, config.DefaultNotationLevel), Revocation: ns.Revocation}
	switch ns.Revocation {
	case "", "enforce", "log":
	default:
		v.Errorf("%s.notation.revocation = %q: want \"enforce\" or \"log\"", at, ns.Revocation)
	}
	switch ns.VerifyTimestamp {
	case "", "always":
	case "after_cert_expiry":
		req.AfterCertExpiry = true
	default:
		v.Errorf("%s.notation.verify_timestamp = %q: want \"always\" or \"after_cert_expiry\"", at, ns.VerifyTimestamp)
	}
	if len(req.Identities) == 0 {
		req.Identities = []string{"*"}
	}
	for _, c := range ns.Certs {
		kind, ok := certs[c]
		switch {
		case !ok:
			v.Errorf("%s.notation.certs: certificate %q is not defined under [certs]", at, c)
		case kind == keystore.CertSigningAuthority && slices.Contains(req.Identities, "*"):
			v.Errorf("%s.notation.trusted_identities: certificate %q is a signing authority's root: %v", at, c, verify.ErrAuthorityWildcard)
		case kind != keystore.CertCA && kind != keystore.CertSigningAuthority:
			v.Errorf("%s.notation.certs: certificate %q is a %s certificate, not a ca or signing_authority", at, c, kind)
		}
	}
	if len(ns.TSA) > 0 && len(ns.Certs) > 0 && !slices.ContainsFunc(ns.Certs, func(c string) bool { return certs[c] != keystore.CertSigningAuthority }) {
		v.Errorf("%s.notation.tsa: %v", at, verify.ErrTSAUnderAuthority)
	}
	for _, c := range ns.TSA {
		if kind, ok := certs[c]; !ok {
			v.Errorf("%s.notation.tsa: certificate %q is not defined under [certs]", at, c)
		} else if kind != keystore.CertTSA {
			v.Errorf("%s.notation.tsa: certificate %q is a %s certificate, not a tsa", at, c, kind)
		}
	}
	req.Threshold = 1
	if len(ns.Certs) > 0 {
		th, err := verify.ParseThreshold(string(ns.Require), len(ns.Certs))
		if err != nil {
			v.Errorf("%s.notation.%v", at, err)
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
			v.Errorf("%s: %ss %q and %q hold the same %s (%s), so one signature would count as two; list it once", at, what, prev, n, what, fp)
			continue
		}
		first[fp] = n
	}
}
