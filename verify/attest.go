package verify

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/signgate/signgate/keystore"
)

// AttestationRequirement is an in-toto attestation an image must carry: of
// one predicate type, signed as a cosign signature would be (Signers: keys,
// KMS keys, keyless identities, a require count), for this digest, and
// passing every condition.
type AttestationRequirement struct {
	// Name is how messages and the decision log name it; by default the
	// type as written in the config.
	Name          string
	PredicateType string // the statement's predicateType, a URI
	Signers       CosignRequirement
	Conditions    []*Condition
	// MaxAge, when set, is also among Conditions; kept here so a verdict
	// resting on the attestation expires with it.
	MaxAge time.Duration
}

// Rule describes the requirement for messages.
func (r *AttestationRequirement) Rule() string {
	s := fmt.Sprintf("a %s attestation signed by %s", r.Name, r.Signers.Rule())
	if len(r.Conditions) > 0 {
		s += fmt.Sprintf(" passing %d condition(s)", len(r.Conditions))
	}
	return s
}

// AttestationResult is the outcome of one attestation requirement.
type AttestationResult struct {
	Name          string `json:"name"`
	PredicateType string `json:"predicate_type"`
	Requirement   string `json:"requirement"`
	// Attestations of the type found on the image, each with who verified
	// it and the conditions it failed.
	Attestations []CosignSignature `json:"attestations"`
	KeysVerified []string          `json:"keys_verified"`
	Satisfied    bool              `json:"satisfied"`
	Reason       string            `json:"reason"`
	// validUntil is when the verdict stops being true (a max_age runs
	// out); zero for never.
	validUntil time.Time
}

func (r *AttestationResult) cause() Cause {
	switch {
	case r.Satisfied:
		return CauseVerified
	case len(r.Attestations) == 0:
		return CauseNoAttestation
	}
	return CauseAttestationFailed
}

// attestation is one in-toto attestation read from the registry, before
// any key is tried.
type attestation struct {
	format, location string
	legacy           oci.Signature    // the .att tag's layer, or
	bundle           *sgbundle.Bundle // a Sigstore bundle referrer
	predicateType    string
	input            attestationInput
	problem          string // unreadable, or about another image
}

// statement is the part of an in-toto statement signgate reads.
type statement struct {
	PredicateType string          `json:"predicateType"`
	Subject       []any           `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// parseStatement reads an in-toto statement and checks it is about h.
// The predicate type is "" when the statement does not parse.
func parseStatement(raw []byte, h v1.Hash) (string, attestationInput, error) {
	var st statement
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", attestationInput{}, fmt.Errorf("malformed in-toto statement: %w", err)
	}
	in := attestationInput{predicateType: st.PredicateType, subject: st.Subject}
	if len(st.Predicate) > 0 {
		if err := json.Unmarshal(st.Predicate, &in.predicate); err != nil {
			return st.PredicateType, in, fmt.Errorf("malformed predicate: %w", err)
		}
	}
	for _, s := range st.Subject {
		if d, ok := lookup(s, "digest").(map[string]any); ok && d[h.Algorithm] == h.Hex {
			return st.PredicateType, in, nil
		}
	}
	return st.PredicateType, in, otherImageError("attests another image: no subject names " + h.String())
}

// unreadable files an attestation that could not be read far enough to
// know its type: no requirement counts it, but a denial names it.
func unreadable(location string, err error) *attestation {
	return &attestation{location: location, problem: err.Error()}
}

func readAttestationTag(ctx context.Context, img name.Digest, h v1.Hash, types map[string]bool, opts []ociremote.Option) ([]*attestation, error) {
	tag, err := ociremote.AttestationTag(img, opts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading attestations of %s from %s: %w", img, tag, err)
	}
	m, err := sigs.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading attestations of %s from %s: %w", img, tag, err)
	}
	if err := tooMany(ctx, img, "cosign attestations in "+tag.TagStr(), len(m.Layers)); err != nil {
		return nil, err
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, fmt.Errorf("reading attestations of %s from %s: %w", img, tag, err)
	}
	if err := noteTag(ctx, tag, sigs, len(list)); err != nil {
		return nil, fmt.Errorf("reading attestations of %s from %s: %w", img, tag, err)
	}
	var out []*attestation
	for i, s := range list {
		a := &attestation{format: FormatLegacy, location: fmt.Sprintf("%s layer %d", tag.TagStr(), i)}
		sig, err := static.Copy(s)
		if err != nil {
			if isFetchError(err) {
				return nil, fmt.Errorf("reading attestation %s of %s: %w", a.location, img, err)
			}
			out = append(out, unreadable(a.location, fmt.Errorf("unreadable: %w", err)))
			continue
		}
		a.legacy = sig
		if err := checkLegacyAnnotations(sig); err != nil {
			a.problem = err.Error()
		}
		p, err := sig.Payload()
		if err != nil {
			out = append(out, unreadable(a.location, fmt.Errorf("unreadable payload: %w", err)))
			continue
		}
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal(p, &env); err != nil {
			out = append(out, unreadable(a.location, fmt.Errorf("malformed DSSE envelope: %w", err)))
			continue
		}
		if env.PayloadType != "application/vnd.in-toto+json" {
			continue // another kind of attestation
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			out = append(out, unreadable(a.location, fmt.Errorf("malformed DSSE envelope: the payload is not base64: %w", err)))
			continue
		}
		pt, in, err := parseStatement(raw, h)
		if pt == "" && err != nil {
			out = append(out, unreadable(a.location, err))
			continue
		}
		if !types[pt] {
			continue
		}
		a.predicateType, a.input = pt, in
		if a.problem == "" && err != nil {
			a.problem = err.Error()
		}
		out = append(out, a)
	}
	return out, nil
}

func readAttestationBundles(ctx context.Context, img name.Digest, h v1.Hash, types map[string]bool, ropts []remote.Option) ([]*attestation, error) {
	idx, err := referrers(ctx, img, ociremote.WithRemoteOptions(ropts...))
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", img, err)
	}
	var fetch []v1.Descriptor
	for _, desc := range idx.Manifests {
		if !strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix) && desc.ArtifactType != "" && desc.ArtifactType != emptyConfigType {
			continue
		}
		// The annotation is unsigned: it only saves fetching other kinds
		// (a lie can hide an attestation, which denies, never admit one).
		if pt, ok := desc.Annotations[ociremote.BundlePredicateType]; ok && !types[pt] {
			continue
		}
		fetch = append(fetch, desc)
	}
	if err := tooMany(ctx, img, "referrers that may be attestation bundles", len(fetch)); err != nil {
		return nil, err
	}
	var out []*attestation
	for _, desc := range fetch {
		location := "referrer " + desc.Digest.String()
		b, err := bundle(ctx, img.Context().Digest(desc.Digest.String()), ropts)
		if err != nil {
			if isFetchError(err) {
				return nil, fmt.Errorf("reading bundle %s of %s: %w", desc.Digest, img, err)
			}
			if strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix) || errors.Is(err, errLogKind) {
				out = append(out, unreadable(location, fmt.Errorf("malformed bundle: %w", err)))
			}
			continue // else some other artifact with an empty config
		}
		env, ok := b.Content.(*protobundle.Bundle_DsseEnvelope)
		if !ok || env.DsseEnvelope == nil || env.DsseEnvelope.PayloadType != "application/vnd.in-toto+json" {
			continue
		}
		pt, in, err := parseStatement(env.DsseEnvelope.Payload, h)
		if pt == "" && err != nil {
			out = append(out, unreadable(location, err))
			continue
		}
		if !types[pt] {
			continue
		}
		a := &attestation{format: FormatBundle, location: location, bundle: b, predicateType: pt, input: in}
		if err == nil {
			err = checkBundleParts(b)
		}
		if err != nil {
			a.problem = err.Error()
		}
		out = append(out, a)
	}
	return out, nil
}

// attestationSigners is what one requirement's signers resolve to in a
// snapshot.
type attestationSigners struct {
	keys    []*keystore.Key
	signers []*Signer
	keyLog  *TrustRoot
	note    string // keys or identities not loaded, for the reason
}

// judgeAttestations verifies the attestations of req's type with its
// signers, applies its conditions to those that verify, and judges the
// count.
func judgeAttestations(ctx context.Context, req *AttestationRequirement, found []*attestation, by attestationSigners, h v1.Hash, now time.Time) *AttestationResult {
	res := &AttestationResult{Name: req.Name, PredicateType: req.PredicateType, Requirement: req.Rule(), Attestations: []CosignSignature{}}
	digestBytes, _ := hex.DecodeString(h.Hex)
	var failures, unread []string
	cs := CosignResult{Requirement: req.Signers.Rule()}
	for _, a := range found {
		if a.predicateType == "" {
			unread = append(unread, a.location+": "+a.problem)
			continue
		}
		if a.predicateType != req.PredicateType {
			continue
		}
		s := CosignSignature{Format: a.format, Location: a.location, PredicateType: a.predicateType, Problem: a.problem}
		if a.problem == "" {
			if a.legacy != nil {
				verifyLegacyWith(ctx, &s, a.legacy, h, by.keys, by.signers, req.Signers.Tlog, by.keyLog, true)
			} else {
				verifyBundleWith(ctx, &s, a.bundle, h, digestBytes, by.keys, by.signers, req.Signers.Tlog, by.keyLog)
			}
		}
		if len(s.VerifiedBy) > 0 {
			in := a.input
			in.now = now
			if s.SignedAt != "" {
				in.signedAt, _ = time.Parse(time.RFC3339, s.SignedAt)
			}
			for _, c := range req.Conditions {
				if err := c.eval(&in); err != nil {
					s.Failed = append(s.Failed, err.Error())
				}
			}
			if len(s.Failed) > 0 {
				for _, k := range s.VerifiedBy {
					s.reject(k, fmt.Errorf("verified, but fails %s", s.Failed[0]))
				}
				s.VerifiedBy, s.Versions, s.material = nil, nil, nil
				failures = append(failures, fmt.Sprintf("%s fails %s", a.location, strings.Join(s.Failed, "; ")))
			} else if req.MaxAge > 0 {
				if at, _ := attestedAt(&in); !at.IsZero() {
					if until := at.Add(req.MaxAge); res.validUntil.IsZero() || until.Before(res.validUntil) {
						res.validUntil = until
					}
				}
			}
		}
		cs.Signatures = append(cs.Signatures, s)
	}
	judge(&cs, &req.Signers)
	res.Attestations, res.KeysVerified, res.Satisfied = cs.Signatures, cs.KeysVerified, cs.Satisfied
	if res.Attestations == nil {
		res.Attestations = []CosignSignature{}
	}
	switch {
	case res.Satisfied:
		res.Reason = fmt.Sprintf("%s: verified by %s", req.Name, strings.Join(res.KeysVerified, ", "))
	case len(res.Attestations) == 0:
		res.Reason = fmt.Sprintf("%s: no attestation of type %s found (looked in the .att tag and Sigstore bundle referrers)", req.Name, req.PredicateType)
		if len(unread) > 0 {
			// One of them may have been it.
			res.Reason += fmt.Sprintf("; %d attestation(s) could not be read: %s", len(unread), strings.Join(unread, "; "))
		}
	case len(failures) > 0:
		res.Reason = fmt.Sprintf("%s: requires %s; %s", req.Name, req.Signers.Rule(), strings.Join(failures, "; "))
	default:
		res.Reason = fmt.Sprintf("%s: %s", req.Name, strings.Replace(cs.Reason, "signature(s) found", "attestation(s) found", 1))
	}
	if !res.Satisfied {
		res.validUntil = time.Time{}
	}
	res.Reason += by.note
	return res
}

// checkAttestations reads img's attestations once and judges every
// requirement of p against them.
func (e *Engine) checkAttestations(ctx context.Context, snap *Snapshot, p *Policy, img name.Digest) (part, []*AttestationResult, time.Time) {
	ropts, err := e.cosign.Registry.Options(ctx, img.Context())
	if err != nil {
		return e.unread(ctx, img, "attestations: cannot read: ", err), nil, time.Time{}
	}
	h, err := v1.NewHash(img.DigestStr())
	if err != nil {
		return part{cause: CauseMisconfigured, reason: fmt.Sprintf("attestations: image %s: %v", img, err)}, nil, time.Time{}
	}
	types := map[string]bool{}
	for _, r := range p.Attestations {
		types[r.PredicateType] = true
	}
	// Bundles first, as for signatures: when they meet every requirement
	// the .att tag is not read, unless one requires every attestation
	// to verify.
	every := false
	for _, r := range p.Attestations {
		every = every || r.Signers.EverySignature
	}
	bundles, err := readAttestationBundles(ctx, img, h, types, ropts)
	if err != nil {
		return e.unread(ctx, img, "attestations: cannot read: ", err), nil, time.Time{}
	}
	if len(bundles) > 0 && !every {
		if a, results, until := e.judgeAllAttestations(ctx, snap, p, h, bundles); a.cause == CauseVerified {
			return a, results, until
		}
	}
	legacy, err := readAttestationTag(ctx, img, h, types, []ociremote.Option{ociremote.WithRemoteOptions(ropts...)})
	if err != nil {
		return e.unread(ctx, img, "attestations: cannot read: ", err), nil, time.Time{}
	}
	return e.judgeAllAttestations(ctx, snap, p, h, append(legacy, bundles...))
}

// judgeAllAttestations judges every attestation requirement of p against
// the attestations found.
func (e *Engine) judgeAllAttestations(ctx context.Context, snap *Snapshot, p *Policy, h v1.Hash, found []*attestation) (part, []*AttestationResult, time.Time) {
	now := e.opts.Now() // max_age is judged by the engine's clock
	var (
		results []*AttestationResult
		reasons []string
		cause   = CauseVerified
		until   time.Time
	)
	for _, r := range p.Attestations {
		by, bad := snap.resolveSigners(&r.Signers)
		if bad != "" {
			res := &AttestationResult{Name: r.Name, PredicateType: r.PredicateType, Requirement: r.Rule(), Attestations: []CosignSignature{}, Reason: r.Name + ": " + bad}
			results, reasons, cause = append(results, res), append(reasons, res.Reason), worse(cause, CauseMisconfigured)
			continue
		}
		for _, c := range r.Conditions {
			if c.readsNow {
				noteUnrenewable(ctx) // judged against the clock: verified in full again
			}
		}
		res := judgeAttestations(ctx, r, found, by, h, now)
		results, reasons = append(results, res), append(reasons, res.Reason)
		cause = worse(cause, res.cause())
		if !res.validUntil.IsZero() && (until.IsZero() || res.validUntil.Before(until)) {
			until = res.validUntil
		}
	}
	return part{cause: cause, reason: "attestations: " + strings.Join(reasons, "; ")}, results, until
}

// resolveSigners finds a requirement's keys and identities in the
// snapshot; a tlog_root not loaded yet is a reason to deny.
func (s *Snapshot) resolveSigners(req *CosignRequirement) (attestationSigners, string) {
	var by attestationSigners
	var missing, rootless []string
	for _, n := range req.Keys {
		if vs := s.Keys.Versions(n); len(vs) > 0 {
			by.keys = append(by.keys, vs...)
		} else {
			missing = append(missing, n)
		}
	}
	stale := map[string][]string{} // why -> the identities it silences
	for _, n := range req.Identities {
		sg := s.Signers[n]
		switch {
		case sg == nil:
			rootless = append(rootless, n)
		case s.stale[sg.Root.Name] != "":
			why := s.stale[sg.Root.Name]
			stale[why] = append(stale[why], n)
		default:
			by.signers = append(by.signers, sg)
		}
	}
	if n := req.TlogRoot; n != "" {
		if by.keyLog = s.TrustRoots[n]; by.keyLog == nil || by.keyLog.Material == nil {
			return by, fmt.Sprintf("trust root %q, whose log key signatures must be in, is not loaded yet", n)
		}
		if why := s.stale[n]; why != "" {
			return by, fmt.Sprintf("key signatures' log entries cannot be checked: %s", why)
		}
	}
	for _, why := range slices.Sorted(maps.Keys(stale)) {
		by.note += fmt.Sprintf(" (%s: identities %v verify nothing)", why, stale[why])
	}
	if len(missing) > 0 {
		by.note += fmt.Sprintf(" (keys with no trusted version in the keystore: %v)", missing)
	}
	if len(rootless) > 0 {
		by.note += fmt.Sprintf(" (identities whose trust root is not loaded yet: %v)", rootless)
	}
	return by, ""
}
