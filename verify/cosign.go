package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	"github.com/sigstore/cosign/v3/pkg/oci"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
)

// Where cosign keeps signatures.
const (
	FormatLegacy = "legacy" // the sha256-<hex>.sig tag (cosign v2, v3 --new-bundle-format=false)
	FormatBundle = "bundle" // a Sigstore bundle stored as an OCI 1.1 referrer (cosign v3)
)

const (
	bundleArtifactPrefix = "application/vnd.dev.sigstore.bundle"
	emptyConfigType      = "application/vnd.oci.empty.v1+json"
)

// CosignSignature is what signgate learned about one signature.
type CosignSignature struct {
	Format     string            `json:"format"`
	Location   string            `json:"location"`              // the tag and layer, or the referrer digest
	VerifiedBy []string          `json:"verified_by,omitempty"` // listed keys that verified it
	Versions   map[string]string `json:"versions,omitempty"`    // key -> the version that verified it, for KMS keys
	Rejections map[string]string `json:"rejections,omitempty"`  // listed key -> why it did not verify
	Problem    string            `json:"problem,omitempty"`     // unreadable, whatever the key
	// Keyless: whom the signature's certificate names, whichever identity
	// it was checked against; and, once an identity verified it, the
	// trust root, log entry and time that showed it.
	Subject   string `json:"subject,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	TrustRoot string `json:"trust_root,omitempty"`
	LogIndex  *int64 `json:"log_index,omitempty"`
	SignedAt  string `json:"signed_at,omitempty"` // RFC 3339, from the log or a timestamp authority
	// Attestations: the statement's predicate type, and the conditions
	// it failed once verified.
	PredicateType string   `json:"predicate_type,omitempty"`
	Failed        []string `json:"failed_conditions,omitempty"`
	// material maps each key name that verified the signature to the
	// fingerprint of the key material that did, so thresholds count keys,
	// not names.
	material map[string]string
	// telling marks the rejections a denial leads with (see telling).
	telling map[string]bool
}

// CosignResult is the outcome of a cosign requirement.
type CosignResult struct {
	Requirement  string            `json:"requirement"`
	Signatures   []CosignSignature `json:"signatures"`
	KeysVerified []string          `json:"keys_verified"`
	Satisfied    bool              `json:"satisfied"`
	Reason       string            `json:"reason"`
}

func (r *CosignResult) cause() Cause {
	switch {
	case r.Satisfied:
		return CauseVerified
	case len(r.Signatures) == 0:
		return CauseNoSignatures
	}
	return CauseUntrusted
}

// cosignVerifier checks cosign signatures with keys from the keystore.
type cosignVerifier struct {
	Registry RemoteOptions
}

// RemoteOptions is the registry access a verifier needs; registry.Client
// provides it.
type RemoteOptions interface {
	Options(ctx context.Context, repo name.Repository) ([]remote.Option, error)
}

// Verify fetches every cosign signature of img, in both formats, and checks
// it against the requirement's keys. An error means the signatures could not
// be read (registry down, too large); a result means they were read and judged.
// keyLog, when not nil, is the trust root whose Rekor logs key signatures'
// log entries are checked against, as req.Tlog says.
func (v *cosignVerifier) Verify(ctx context.Context, img name.Digest, req *CosignRequirement, keys []*keystore.Key, signers []*Signer, keyLog *TrustRoot) (*CosignResult, error) {
	ropts, err := v.Registry.Options(ctx, img.Context())
	if err != nil {
		return nil, err
	}
	opts := []ociremote.Option{ociremote.WithRemoteOptions(ropts...)}
	h, err := v1.NewHash(img.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img, err)
	}

	// Bundles first (what cosign v3 writes): when they meet the
	// requirement, the .sig tag is not read. More signatures can only
	// verify more, so the verdict is the same, unless every signature
	// must verify: then both formats are read. One request less for a
	// bundle-signed image; one round trip later for a legacy-signed one.
	bundles, err := v.bundles(ctx, img, h, keys, signers, req.Tlog, keyLog, ropts)
	if err != nil {
		return nil, err
	}
	if len(bundles) > 0 && !req.EverySignature {
		// judge clears what it counted: judge copies.
		res := &CosignResult{Requirement: req.Rule(), Signatures: slices.Clone(bundles)}
		if judge(res, req); res.Satisfied {
			return res, nil
		}
	}
	legacy, err := v.legacy(ctx, img, h, keys, signers, req.Tlog, keyLog, opts)
	if err != nil {
		return nil, err
	}
	res := &CosignResult{Requirement: req.Rule(), Signatures: append(legacy, bundles...)}
	judge(res, req)
	return res, nil
}

func (v *cosignVerifier) legacy(ctx context.Context, img name.Digest, h v1.Hash, keys []*keystore.Key, signers []*Signer, mode Tlog, keyLog *TrustRoot, opts []ociremote.Option) ([]CosignSignature, error) {
	tag, err := ociremote.SignatureTag(img, opts...)
	if err != nil {
		return nil, err
	}
	sigs, err := ociremote.Signatures(tag, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading signatures of %s from %s: %w", img, tag, err)
	}
	m, err := sigs.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading signatures of %s from %s: %w", img, tag, err)
	}
	if err := tooMany(ctx, img, "cosign signatures in "+tag.TagStr(), len(m.Layers)); err != nil {
		return nil, err
	}
	list, err := sigs.Get()
	if err != nil {
		return nil, fmt.Errorf("reading signatures of %s from %s: %w", img, tag, err)
	}
	if err := noteTag(ctx, tag, sigs, len(list)); err != nil {
		return nil, fmt.Errorf("reading signatures of %s from %s: %w", img, tag, err)
	}
	out := make([]CosignSignature, 0, len(list))
	for i, s := range list {
		cs := CosignSignature{Format: FormatLegacy, Location: fmt.Sprintf("%s layer %d", tag.TagStr(), i)}
		// Read the layer once, not once per key.
		sig, err := static.Copy(s)
		if err != nil {
			if isFetchError(err) {
				return nil, fmt.Errorf("reading signature %s of %s: %w", cs.Location, img, err)
			}
			cs.Problem = "unreadable: " + err.Error()
			out = append(out, cs)
			continue
		}
		// Before anything parses the log entry a signature carries.
		if err := checkLegacyAnnotations(sig); err != nil {
			cs.Problem = err.Error()
			out = append(out, cs)
			continue
		}
		if b64, err := sig.Base64Signature(); err != nil || b64 == "" {
			cs.Problem = "malformed: the layer carries no signature annotation"
			out = append(out, cs)
			continue
		} else if _, err := base64.StdEncoding.DecodeString(b64); err != nil {
			cs.Problem = "malformed: the signature annotation is not base64"
			out = append(out, cs)
			continue
		}
		verifyLegacyWith(ctx, &cs, sig, h, keys, signers, mode, keyLog, false)
		out = append(out, cs)
	}
	return out, nil
}

// verifyLegacyWith checks one signature (or, with attestation, one DSSE
// attestation) of the .sig/.att tag against every key and identity, and
// records which verified it.
func verifyLegacyWith(ctx context.Context, cs *CosignSignature, sig oci.Signature, h v1.Hash, keys []*keystore.Key, signers []*Signer, mode Tlog, keyLog *TrustRoot, attestation bool) {
	check, claims := cosign.VerifyImageSignature, cosign.SimpleClaimVerifier
	if attestation {
		check, claims = cosign.VerifyBlobAttestation, cosign.IntotoSubjectClaimVerifier
	}
	for _, k := range keys {
		if cs.verifiedBy(k.Name) {
			continue
		}
		co := &cosign.CheckOpts{
			SigVerifier: k.Verifier,
			IgnoreTlog:  true, // keys are pinned locally, unless the policy names a log (below)
			// Without a claim verifier cosign does not compare the signed
			// payload's digest with the image: a signature copied from
			// another image would pass.
			ClaimVerifier: claims,
		}
		var logged *int64 // the log's integrated time, once checked
		if keyLog != nil {
			rb, err := sig.Bundle()
			if err != nil {
				cs.reject(k.Name, fmt.Errorf("malformed Rekor bundle annotation: %w", err))
				continue
			}
			if rb == nil && mode == TlogRequire {
				cs.reject(k.Name, errNoLogEntry)
				continue
			}
			if rb != nil && mode != TlogOff {
				co.IgnoreTlog, co.TrustedMaterial, co.Offline = false, keyLog.Material, true
				logged = &rb.Payload.IntegratedTime
			}
		}
		if _, err := check(ctx, sig, h, co); err != nil {
			cs.reject(k.Name, legacyReason(err, sig))
			continue
		}
		cs.accept(k)
		if logged != nil && !attestation {
			// Checked against the trust root's log: a time the signer
			// could not choose (a policy artifact's issue time). Not for
			// attestations, whose max_age keeps its own sources.
			cs.SignedAt = time.Unix(*logged, 0).UTC().Format(time.RFC3339)
		}
	}
	cert, err := sig.Cert()
	if err != nil {
		for _, s := range signers {
			cs.reject(s.Name, fmt.Errorf("malformed certificate annotation: %w", err))
		}
	} else if cert != nil {
		cs.certificate(cert)
		for _, s := range signers {
			rb, err := s.verifyLegacy(ctx, sig, h, mode, attestation)
			if err != nil {
				cs.reject(s.Name, err)
				continue
			}
			cs.acceptSigner(s, cert)
			if rb != nil && mode != TlogOff {
				idx := rb.Payload.LogIndex
				cs.LogIndex = &idx
				cs.SignedAt = time.Unix(rb.Payload.IntegratedTime, 0).UTC().Format(time.RFC3339)
			}
		}
	} else {
		for _, s := range signers {
			cs.reject(s.Name, errKeyNotCert)
		}
	}
}

// legacyReason says why a legacy signature did not verify with a key.
func legacyReason(err error, sig interface{ Payload() ([]byte, error) }) error {
	// cosign has no error value for this: its text is all there is.
	if strings.Contains(err.Error(), "invalid or missing digest in claim") {
		p, perr := sig.Payload()
		if perr != nil {
			return otherImageError(fmt.Sprintf("signed by this key, but for another image (its payload cannot be read: %v)", perr))
		}
		var claim struct {
			Critical struct {
				Image struct {
					Digest string `json:"docker-manifest-digest"`
				} `json:"image"`
			} `json:"critical"`
		}
		if jerr := json.Unmarshal(p, &claim); jerr != nil {
			return otherImageError(fmt.Sprintf("signed by this key, but for another image (its payload is not JSON: %v)", jerr))
		}
		return otherImageError(fmt.Sprintf("signed by this key, but for another image (payload names %q)", claim.Critical.Image.Digest))
	}
	return errKeyDoesNotVerify
}

func (v *cosignVerifier) bundles(ctx context.Context, img name.Digest, h v1.Hash, keys []*keystore.Key, signers []*Signer, mode Tlog, keyLog *TrustRoot, ropts []remote.Option) ([]CosignSignature, error) {
	opts := []ociremote.Option{ociremote.WithRemoteOptions(ropts...)}
	// The registry client reads every page of the referrers API (up to a
	// bound), so every_signature judges the whole list.
	idx, err := referrers(ctx, img, opts...)
	if err != nil {
		return nil, fmt.Errorf("listing referrers of %s: %w", img, err)
	}
	digestBytes, err := hex.DecodeString(h.Hex)
	if err != nil {
		return nil, err
	}
	var fetch []v1.Descriptor
	for _, desc := range idx.Manifests {
		claimsBundle := strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix)
		// Some registries report the config media type (the empty
		// descriptor) instead of the manifest's artifactType: look inside
		// those. Skip only what declares another kind (SBOMs, notation).
		if !claimsBundle && desc.ArtifactType != "" && desc.ArtifactType != emptyConfigType {
			continue
		}
		// The annotation is unsigned, so it only saves fetching attestations
		// of other kinds; the signed statement is checked below.
		if pt, ok := desc.Annotations[ociremote.BundlePredicateType]; ok && pt != types.CosignSignPredicateType {
			continue
		}
		fetch = append(fetch, desc)
	}
	if err := tooMany(ctx, img, "referrers that may be cosign signature bundles", len(fetch)); err != nil {
		return nil, err
	}
	var out []CosignSignature
	for _, desc := range fetch {
		claimsBundle := strings.HasPrefix(desc.ArtifactType, bundleArtifactPrefix)
		cs := CosignSignature{Format: FormatBundle, Location: "referrer " + desc.Digest.String()}
		b, err := bundle(ctx, img.Context().Digest(desc.Digest.String()), ropts)
		if err != nil {
			if isFetchError(err) {
				return nil, fmt.Errorf("reading bundle %s of %s: %w", desc.Digest, img, err)
			}
			if !claimsBundle && !errors.Is(err, errLogKind) {
				continue // some other artifact with an empty config
			}
			cs.Problem = "malformed bundle: " + err.Error()
			out = append(out, cs)
			continue
		}
		if err := checkStatement(b, h); errors.Is(err, errAttestation) {
			continue // an attestation, which no signature requirement counts
		} else if err != nil {
			cs.Problem = err.Error()
			out = append(out, cs)
			continue
		}
		if err := checkBundleParts(b); err != nil {
			cs.Problem = err.Error()
			out = append(out, cs)
			continue
		}
		verifyBundleWith(ctx, &cs, b, h, digestBytes, keys, signers, mode, keyLog)
		out = append(out, cs)
	}
	return out, nil
}

// verifyBundleWith checks one Sigstore bundle (a signature or an
// attestation: sigstore-go checks the statement's subject either way)
// against every key and identity, and records which verified it.
func verifyBundleWith(ctx context.Context, cs *CosignSignature, b *sgbundle.Bundle, h v1.Hash, digestBytes []byte, keys []*keystore.Key, signers []*Signer, mode Tlog, keyLog *TrustRoot) {
	for _, k := range keys {
		if cs.verifiedBy(k.Name) {
			continue
		}
		co := &cosign.CheckOpts{SigVerifier: k.Verifier, IgnoreTlog: true}
		if keyLog != nil {
			entries, err := b.TlogEntries()
			if err != nil {
				cs.reject(k.Name, fmt.Errorf("malformed bundle: its log entries: %w", err))
				continue
			}
			if len(entries) == 0 && mode == TlogRequire {
				cs.reject(k.Name, errNoLogEntry)
				continue
			}
			if len(entries) > 0 && mode != TlogOff {
				co.IgnoreTlog, co.TrustedMaterial = false, keyLog.Material
			}
		}
		if _, err := cosign.VerifyNewBundle(ctx, co, sgverify.WithArtifactDigest(h.Algorithm, digestBytes), b); err != nil {
			cs.reject(k.Name, errKeyDoesNotVerify)
			continue
		}
		cs.accept(k)
	}
	if vc, err := b.VerificationContent(); err == nil && vc.Certificate() != nil {
		cs.certificate(vc.Certificate())
	}
	for _, s := range signers {
		res, err := s.verifyBundle(b, h, mode)
		if err != nil {
			cs.reject(s.Name, err)
			continue
		}
		cs.acceptSigner(s, res.cert)
		if len(res.entries) > 0 && mode != TlogOff {
			idx := res.entries[0].LogIndex()
			cs.LogIndex = &idx
		}
		if len(res.VerifiedTimestamps) > 0 {
			cs.SignedAt = res.VerifiedTimestamps[0].Timestamp.UTC().Format(time.RFC3339)
		}
	}
}

// errAttestation: checkStatement found an attestation, not a signature.
var errAttestation = errors.New("an attestation, not a cosign signature")

// checkStatement makes sure a bundle is a cosign signature of exactly this
// digest: a DSSE envelope holding an in-toto statement with cosign's sign
// predicate type and the digest as its subject. sigstore-go checks the
// signature over the envelope; this checks what was signed.
func checkStatement(b *sgbundle.Bundle, h v1.Hash) error {
	env, ok := b.Content.(*protobundle.Bundle_DsseEnvelope)
	if !ok || env.DsseEnvelope == nil {
		return errors.New("not a DSSE bundle, so not a cosign image signature")
	}
	if env.DsseEnvelope.PayloadType != "application/vnd.in-toto+json" {
		return fmt.Errorf("payload type %q is not an in-toto statement", env.DsseEnvelope.PayloadType)
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(env.DsseEnvelope.Payload, &st); err != nil {
		return fmt.Errorf("malformed in-toto statement: %w", err)
	}
	if st.PredicateType != types.CosignSignPredicateType {
		return errAttestation
	}
	for _, s := range st.Subject {
		if s.Digest[h.Algorithm] == h.Hex {
			return nil
		}
	}
	return otherImageError("signs another image: no subject names " + h.String())
}

// reject records why key (or identity) did not verify the signature;
// the kind of err says whether a denial should lead with it.
func (cs *CosignSignature) reject(key string, err error) {
	if cs.Rejections == nil {
		cs.Rejections = map[string]string{}
	}
	cs.Rejections[key] = err.Error()
	if telling(err) {
		if cs.telling == nil {
			cs.telling = map[string]bool{}
		}
		cs.telling[key] = true
	} else {
		delete(cs.telling, key)
	}
}

// accept records that k verified the signature. keys may hold several
// versions of one name (a KMS key in a rotation's grace period): one that
// verifies is enough, and clears another version's rejection.
func (cs *CosignSignature) accept(k *keystore.Key) {
	cs.VerifiedBy = append(cs.VerifiedBy, k.Name)
	if cs.material == nil {
		cs.material = map[string]string{}
	}
	cs.material[k.Name] = k.Fingerprint
	delete(cs.Rejections, k.Name)
	delete(cs.telling, k.Name)
	if len(cs.Rejections) == 0 {
		cs.Rejections = nil
	}
	if k.Version != "" {
		if cs.Versions == nil {
			cs.Versions = map[string]string{}
		}
		cs.Versions[k.Name] = k.Version
	}
}

// certificate records whom a keyless signature's certificate names.
func (cs *CosignSignature) certificate(cert *x509.Certificate) {
	if sum, err := certSummary(cert); err == nil {
		cs.Subject, cs.Issuer = sum.SubjectAlternativeName, sum.Issuer
	}
}

// acceptSigner records that a keyless identity verified the signature. Its
// material is the certificate: two identities that match one certificate
// are one signer to a threshold.
func (cs *CosignSignature) acceptSigner(s *Signer, cert *x509.Certificate) {
	cs.VerifiedBy = append(cs.VerifiedBy, s.Name)
	if cs.material == nil {
		cs.material = map[string]string{}
	}
	sum := sha256.Sum256(cert.Raw)
	cs.material[s.Name] = "cert:" + hex.EncodeToString(sum[:])
	cs.TrustRoot = s.Root.Name
	delete(cs.Rejections, s.Name)
	delete(cs.telling, s.Name)
	if len(cs.Rejections) == 0 {
		cs.Rejections = nil
	}
}

func (cs *CosignSignature) verifiedBy(name string) bool {
	for _, n := range cs.VerifiedBy {
		if n == name {
			return true
		}
	}
	return false
}

// judge applies the requirement to what was found. A threshold counts
// distinct key material: two names for one public key (or two KMS aliases
// that came to point at one key) verify one signature once, not twice.
func judge(res *CosignResult, req *CosignRequirement) {
	verified := map[string]bool{}
	material := map[string]map[string]bool{} // key name -> fingerprints that verified for it
	var stray []string
	for _, s := range res.Signatures {
		for _, k := range s.VerifiedBy {
			verified[k] = true
			if material[k] == nil {
				material[k] = map[string]bool{}
			}
			material[k][s.material[k]] = true
		}
		if len(s.VerifiedBy) == 0 {
			stray = append(stray, s.Location)
		}
	}
	for _, k := range req.Signers() {
		if verified[k] {
			res.KeysVerified = append(res.KeysVerified, k)
		}
	}
	sort.Strings(res.KeysVerified)
	distinct := distinctSigners(res.KeysVerified, material)
	// Counted: the verdict may live in the cache for hours, one of up to
	// max_entries, and needs no more than the names.
	for i := range res.Signatures {
		res.Signatures[i].material = nil
	}
	switch {
	case len(res.Signatures) == 0:
		res.Reason = "no cosign signatures found (looked for the .sig tag and Sigstore bundle referrers)"
	case len(res.KeysVerified) < req.Threshold:
		var missing []string
		for _, k := range req.Signers() {
			if !verified[k] {
				missing = append(missing, k)
			}
		}
		res.Reason = fmt.Sprintf("requires %s; %d signature(s) found, verified by %s, not by %s",
			req.Rule(), len(res.Signatures), listOrNone(res.KeysVerified), strings.Join(missing, ", "))
		if why := commonRejection(res.Signatures); why != "" {
			res.Reason += " (" + why + ")"
		}
		res.Reason += identityRejections(res.Signatures, req.Identities, verified)
	case distinct < req.Threshold:
		res.Reason = fmt.Sprintf("requires %s; verified by %s, but they are %d distinct key(s): %s",
			req.Rule(), strings.Join(res.KeysVerified, ", "), distinct, sharedMaterial(res.KeysVerified, material))
	case req.EverySignature && len(stray) > 0:
		res.Reason = fmt.Sprintf("every signature must verify with a listed key, but %s does not", strings.Join(stray, ", "))
	default:
		res.Satisfied = true
		res.Reason = fmt.Sprintf("requires %s; verified by %s", req.Rule(), strings.Join(res.KeysVerified, ", "))
	}
}

// distinctSigners counts how many of names can each be credited to key
// material no other counted name is credited to: a maximum matching between
// names and the fingerprints that verified for them. One fingerprint behind
// two names counts once; one name verified by two versions counts once.
func distinctSigners(names []string, material map[string]map[string]bool) int {
	owner := map[string]string{} // fingerprint -> name it is credited to
	var try func(n string, seen map[string]bool) bool
	try = func(n string, seen map[string]bool) bool {
		fps := make([]string, 0, len(material[n]))
		for fp := range material[n] {
			fps = append(fps, fp)
		}
		sort.Strings(fps)
		for _, fp := range fps {
			if seen[fp] {
				continue
			}
			seen[fp] = true
			if o, taken := owner[fp]; !taken || try(o, seen) {
				owner[fp] = n
				return true
			}
		}
		return false
	}
	count := 0
	for _, n := range names {
		if try(n, map[string]bool{}) {
			count++
		}
	}
	return count
}

// sharedMaterial names the names that share key material, for messages:
// "build and release are one key (sha256:1a2b3c4d5e6f)".
func sharedMaterial(names []string, material map[string]map[string]bool) string {
	byFP := map[string][]string{}
	for _, n := range names {
		for fp := range material[n] {
			byFP[fp] = append(byFP[fp], n)
		}
	}
	fps := make([]string, 0, len(byFP))
	for fp, ns := range byFP {
		if len(ns) > 1 {
			fps = append(fps, fp)
		}
	}
	sort.Strings(fps)
	var parts []string
	for _, fp := range fps {
		ns := byFP[fp]
		sort.Strings(ns)
		parts = append(parts, fmt.Sprintf("%s are one key (%s)", strings.Join(ns, " and "), shortFP(fp)))
	}
	return strings.Join(parts, "; ")
}

func shortFP(fp string) string {
	if len(fp) > len("sha256:")+12 {
		return fp[:len("sha256:")+12]
	}
	return fp
}

// commonRejection surfaces the most telling rejection: a signature for
// another image or a malformed one says more than "does not verify".
func commonRejection(sigs []CosignSignature) string {
	for _, s := range sigs {
		for key, why := range s.Rejections {
			if s.telling[key] {
				return s.Location + ": " + why
			}
		}
	}
	for _, s := range sigs {
		if s.Problem != "" {
			return s.Location + ": " + s.Problem
		}
	}
	return ""
}

// identityRejections says, for each identity that verified nothing, why
// the first signature it was checked against was not its: whom the
// certificate names instead, or what failed.
func identityRejections(sigs []CosignSignature, ids []string, verified map[string]bool) string {
	var out string
	for _, id := range ids {
		if verified[id] {
			continue
		}
		for _, s := range sigs {
			if why, ok := s.Rejections[id]; ok {
				out += fmt.Sprintf("; %s: %s (%s)", id, why, s.Location)
				break
			}
		}
	}
	return out
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// isFetchError tells a registry that could not be read (deny: we do not know)
// from content that was read and is bad (judge it as such).
func isFetchError(err error) bool {
	var ue interface{ Timeout() bool }
	var big *registry.ErrTooLarge
	return errors.As(err, &ue) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &big)
}
