package policysource

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
)

// A tenant's fragment is checked against its delegation before it is used:
// each of its policies is limited to delegated namespaces and scopes inside
// delegated ones, so it can never govern another namespace, nor an image
// the root did not hand over. The root's floor policies are matched first,
// so nothing a tenant writes reaches the images they govern.

// Tenant is a tenant's verified fragment, kept with the root's.
type Tenant struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	Serial    int64  `json:"serial"`
	Body      string `json:"body"`
	// Signers: DelegationSigners when it was verified; "" if kept by a
	// signgate that did not record it.
	Signers string `json:"signers,omitempty"`
	// Expires is the fragment's signed expires; zero for none.
	Expires time.Time `json:"expires,omitzero"`
}

// Expired says whether t is past its signed expires at now, read from
// its body (the signed text, not an older state file). A body that does
// not parse is not judged here: composing it refuses it, saying why.
func (t *Tenant) Expired(now time.Time) bool {
	f, err := config.ParseFragment("fragment "+t.Digest, []byte(t.Body))
	if err != nil {
		return false
	}
	return !f.Expires.IsZero() && !now.Before(f.Expires)
}

// TenantExpiredError refuses delegation name's fragment t, past its signed
// expires.
func TenantExpiredError(name string, t *Tenant) error {
	f, _ := config.ParseFragment("fragment "+t.Digest, []byte(t.Body))
	e := &FragmentExpiredError{Delegation: name, Reference: t.Reference, Digest: t.Digest}
	if f != nil {
		e.At = f.Expires
	}
	return &RefusedError{Digest: t.Digest, Reason: ExpiredReason, Err: e}
}

// FragmentExpiredError is a tenant's fragment past its signed expires, At
// (zero if unknown).
type FragmentExpiredError struct {
	Delegation, Reference, Digest string
	At                            time.Time
}

// When is At as the errors say it.
func (e *FragmentExpiredError) When() string {
	if e.At.IsZero() {
		return "its signed expires"
	}
	return e.At.UTC().Format(time.RFC3339)
}

func (e *FragmentExpiredError) Error() string {
	return fmt.Sprintf("delegation %q: its fragment %s (%s) expired at %s: its tenant must publish a newer one; the images it delegates are denied meanwhile", e.Delegation, e.Reference, e.Digest, e.When())
}

// OverreachError refuses a tenant's fragment that reaches beyond its
// delegation; it names the delegation.
type OverreachError struct {
	Delegation string
	Problem    string
}

func (e *OverreachError) Error() string {
	return fmt.Sprintf("delegation %q: %s; the tenant's fragment is refused", e.Delegation, e.Problem)
}

// CheckDelegations refuses a root fragment whose delegations are not
// bounded: each needs a reference, namespaces, scopes and keys.
func CheckDelegations(root *config.Fragment) error {
	for _, n := range sortedNames(root.Delegations) {
		d := root.Delegations[n]
		switch {
		case d.Reference == "":
			return fmt.Errorf("delegations.%s.reference: required", n)
		case len(d.Namespaces) == 0:
			return fmt.Errorf("delegations.%s.namespaces: required: a delegation names the namespaces it hands over", n)
		case len(d.Scopes) == 0:
			return fmt.Errorf("delegations.%s.scopes: required: a delegation names the images it hands over", n)
		case len(d.Keys) == 0:
			return fmt.Errorf("delegations.%s.keys: required: who signs the tenant's fragment", n)
		}
		for _, k := range d.Keys {
			if _, ok := root.Keys[k]; !ok {
				return fmt.Errorf("delegations.%s.keys: key %q is not defined under [keys]", n, k)
			}
		}
		for _, ns := range d.Namespaces {
			if ns == "" || strings.ContainsAny(ns, "*?[") {
				return fmt.Errorf("delegations.%s.namespaces: %q: name namespaces exactly", n, ns)
			}
		}
	}
	return nil
}

// Delegate checks a tenant's fragment t against delegation name of root and
// returns its keys and policies, renamed under the delegation's name so
// they cannot collide with, or be mistaken for, the root's.
func Delegate(name string, d config.DelegationSection, t *config.Fragment) (map[string]config.KeySection, []config.PolicySection, error) {
	over := func(format string, args ...any) error {
		return &OverreachError{Delegation: name, Problem: fmt.Sprintf(format, args...)}
	}
	if strings.ContainsAny(name, nameSeparators) {
		// Refused here, not in the root: the root's own policies stay.
		return nil, nil, over("a delegation's name holds no %q (it prefixes the tenant's key and policy names); the root must rename it", nameSeparators)
	}
	if len(t.Certs) > 0 || len(t.TrustRoots) > 0 || len(t.Identities) > 0 || len(t.Delegations) > 0 || t.Hooks != nil || t.AddedMounts != nil {
		return nil, nil, over("a tenant's fragment carries only keys and policies")
	}
	keys := map[string]config.KeySection{}
	for k, ks := range t.Keys {
		if strings.ContainsAny(k, nameSeparators) {
			// "a" + "b.k" and "a.b" + "k" would be one key.
			return nil, nil, over("keys.%q: a tenant's key name holds no %q", k, nameSeparators)
		}
		if ks.Path != "" || ks.KMS != "" {
			return nil, nil, over("keys.%s: a tenant's keys are given inline (pem)", k)
		}
		keys[name+"."+k] = ks
	}
	var out []config.PolicySection
	for i, p := range t.Policy {
		at := fmt.Sprintf("policy[%d] %q", i, p.Name)
		if len(p.Namespaces) == 0 {
			return nil, nil, over("%s names no namespaces, so it would govern every namespace; it may govern only %s", at, strings.Join(d.Namespaces, ", "))
		}
		for _, ns := range p.Namespaces {
			if !slices.Contains(d.Namespaces, ns) {
				return nil, nil, over("%s covers namespace %q, which is not delegated (only %s)", at, ns, strings.Join(d.Namespaces, ", "))
			}
		}
		if len(p.Scopes) == 0 {
			return nil, nil, over("%s names no scopes", at)
		}
		for _, s := range p.Scopes {
			if !within(s, d.Scopes) {
				return nil, nil, over("%s covers images %q, outside the delegated scopes %s", at, s, strings.Join(d.Scopes, ", "))
			}
		}
		if p.Floor {
			return nil, nil, over("%s: only the root's policies are floors", at)
		}
		if ref := rootReference(p); ref != "" {
			// A tenant defines no identities, certificates or trust
			// roots: any it names are the root's, given for other images.
			return nil, nil, over("%s: %s names the root's entries; a tenant's policies trust only its own keys", at, ref)
		}
		p.Name = name + "/" + p.Name
		for _, sec := range []*config.CosignSection{p.Cosign} {
			if sec != nil {
				c := *sec
				c.Keys = prefixed(name, c.Keys)
				p.Cosign = &c
			}
		}
		att := make([]config.AttestationSection, len(p.Attestation))
		for j, a := range p.Attestation {
			a.Keys = prefixed(name, a.Keys)
			att[j] = a
		}
		p.Attestation = att
		out = append(out, p)
	}
	return keys, out, nil
}

// rootReference names the first field of p that names identities,
// certificates or trust roots; "" when none does.
func rootReference(p config.PolicySection) string {
	if c := p.Cosign; c != nil {
		switch {
		case len(c.Identities) > 0:
			return fmt.Sprintf("cosign.identities %v", c.Identities)
		case c.TlogRoot != "":
			return fmt.Sprintf("cosign.tlog_root %q", c.TlogRoot)
		}
	}
	if n := p.Notation; n != nil {
		switch {
		case len(n.Certs) > 0:
			return fmt.Sprintf("notation.certs %v", n.Certs)
		case len(n.TSA) > 0:
			return fmt.Sprintf("notation.tsa %v", n.TSA)
		}
	}
	for j, a := range p.Attestation {
		switch {
		case len(a.Identities) > 0:
			return fmt.Sprintf("attestation[%d].identities %v", j, a.Identities)
		case a.TlogRoot != "":
			return fmt.Sprintf("attestation[%d].tlog_root %q", j, a.TlogRoot)
		}
	}
	return ""
}

// within says whether scope s governs only images that one of the
// delegated scopes does: the same scope, or one under a delegated "/**".
func within(s string, delegated []string) bool {
	for _, d := range delegated {
		if s == d {
			return true
		}
		if base, ok := strings.CutSuffix(d, "/**"); ok && strings.HasPrefix(s, base+"/") {
			return true
		}
	}
	return false
}

// Merge is the fragment in force: the root's keys and the tenants', and
// the policies in the order they are matched: the root's floors, then each
// delegation's (by name), then the rest of the root's. A delegation whose
// tenant has no fragment here (never published, refused, expired) denies
// what it delegates in its place: its namespaces never fall to the root's
// later policies, whose catch-all might admit what the tenant would not.
func Merge(root *config.Fragment, tenants map[string]*config.Fragment) (*config.Fragment, error) {
	out := *root
	out.Keys = map[string]config.KeySection{}
	for k, v := range root.Keys {
		out.Keys[k] = v
	}
	var floors, rest, delegated []config.PolicySection
	names := map[string]bool{}
	for _, p := range root.Policy {
		names[p.Name] = true
		if p.Floor {
			floors = append(floors, p)
		} else {
			rest = append(rest, p)
		}
	}
	for _, n := range sortedNames(root.Delegations) {
		d := root.Delegations[n]
		t := tenants[n]
		if t == nil {
			p := NoFragmentPolicy(n, d)
			if names[p.Name] {
				return nil, fmt.Errorf("delegations.%s: a policy named %q is already defined, the name of the one that denies the delegation's images while it has no fragment: rename it", n, p.Name)
			}
			names[p.Name] = true
			delegated = append(delegated, p)
			continue
		}
		keys, pols, err := Delegate(n, d, t)
		if err != nil {
			return nil, err
		}
		for k, v := range keys {
			// Never replace a key already there: the root's (a floor
			// may trust it) nor another tenant's.
			if _, taken := out.Keys[k]; taken {
				return nil, &OverreachError{Delegation: n, Problem: fmt.Sprintf("its key is named %q, as a key already defined", k)}
			}
			out.Keys[k] = v
		}
		for _, p := range pols {
			if _, taken := names[p.Name]; taken {
				return nil, &OverreachError{Delegation: n, Problem: fmt.Sprintf("its policy is named %q, as a policy already defined", p.Name)}
			}
			names[p.Name] = true
		}
		delegated = append(delegated, pols...)
	}
	out.Policy = append(append(floors, delegated...), rest...)
	out.Delegations = nil
	return &out, nil
}

// nameSeparators join a delegation's name to its tenant's names: neither
// may hold one, so no two tenants' names, nor a tenant's and the root's,
// can be the same.
const nameSeparators = "./"

func prefixed(name string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = name + "." + k
	}
	return out
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
