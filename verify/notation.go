package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/signgate/signgate/keystore"
)

// NotationResult is the outcome of a Notary Project requirement.
type NotationResult struct {
	Requirement   string            `json:"requirement"`
	Level         string            `json:"level"`
	RootsVerified []string          `json:"roots_verified"`
	Signers       map[string]string `json:"signers,omitempty"`    // root -> subject of the certificate that signed
	Rejections    map[string]string `json:"rejections,omitempty"` // root -> why no signature verified
	// Plugins: root -> what the verification plugin a signature named
	// answered for it (the last signature tried under that root).
	Plugins   map[string]*PluginAnswer `json:"plugins,omitempty"`
	Satisfied bool                     `json:"satisfied"`
	Reason    string                   `json:"reason"`

	none bool // no signature was found at all
}

func (r *NotationResult) cause() Cause {
	switch {
	case r.Satisfied:
		return CauseVerified
	case r.none:
		return CauseNoSignatures
	}
	return CauseUntrusted
}

// Repositories gives notation-go its view of a registry; registry.Client
// provides it.
type Repositories interface {
	Repository(repo name.Repository) (*remote.Repository, error)
}

// notationVerifier checks Notary Project signatures in-process with
// notation-go. The trust store is built in memory from the keystore; the
// plugin manager knows only the plugins the snapshot's config names, by
// absolute path, so no other program ever runs.
type notationVerifier struct {
	Registry Repositories
	plugins  *pluginManager
	// Listing, when set, lists signatures through the verification's one
	// referrers listing (see sharedListing).
	Listing RemoteOptions

	now     func() time.Time // the engine's clock, for cached CRLs; time.Now when nil
	once    sync.Once
	options verifier.VerifierOptions
	optErr  error

	// verifiers: notation-go's verifier validates its trust policy when
	// built (compiling regular expressions), a quarter of a cold
	// verification's own time; one is built per requirement, root and
	// keystore, and kept.
	mu        sync.Mutex
	verifiers map[verifierKey]notation.Verifier
}

type verifierKey struct {
	req  *NotationRequirement
	root string
	keys *keystore.Store
}

func (v *notationVerifier) verifier(req *NotationRequirement, root string, keys *keystore.Store) (notation.Verifier, error) {
	k := verifierKey{req, root, keys}
	v.mu.Lock()
	defer v.mu.Unlock()
	if vf, ok := v.verifiers[k]; ok {
		return vf, nil
	}
	kind := ""
	if c, ok := keys.Cert(root); ok {
		kind = c.Kind
	}
	vf, err := verifier.NewWithOptions(trustPolicy(req, root, kind), memTrustStore{keys: keys}, v.plugins, v.options)
	if err != nil {
		return nil, err
	}
	if v.verifiers == nil || len(v.verifiers) >= 256 {
		v.verifiers = map[verifierKey]notation.Verifier{} // keystores replaced by syncs, say
	}
	v.verifiers[k] = vf
	return vf, nil
}

// maxNotationSignatures bounds how many signatures are tried per root.
const maxNotationSignatures = 50

// ErrLevelNotVerifying is why a requirement with notation's "audit" or
// "skip" level is refused: those levels do not establish that a trusted root
// signed the image, so a signature from anyone would count as verified.
var ErrLevelNotVerifying = errors.New(`it does not establish who signed the image; use level "strict" or "permissive", and mode = "audit" on the policy to observe without enforcing`)

// Validate checks the requirement on its own, as the verifier relies on it:
// a *PolicyError naming the field (relative to the notation requirement).
func (r *NotationRequirement) Validate() error {
	switch r.Level {
	case "strict", "permissive":
	case "audit", "skip":
		return &PolicyError{Field: fmt.Sprintf("level = %q", r.Level), Problem: ErrLevelNotVerifying.Error(), Err: ErrLevelNotVerifying}
	default:
		return &PolicyError{Field: fmt.Sprintf("level = %q", r.Level), Problem: `want "strict" or "permissive"`}
	}
	if len(r.Roots) == 0 {
		return &PolicyError{Field: "certs", Problem: "list at least one root certificate"}
	}
	if r.Threshold < 1 || r.Threshold > len(r.Roots) {
		return &PolicyError{Field: "require", Problem: fmt.Sprintf("%d of %d roots can never be met", r.Threshold, len(r.Roots))}
	}
	// notation-go's own validation of the identities.
	if err := trustPolicy(r, r.Roots[0], keystore.CertCA).Validate(); err != nil {
		return &PolicyError{Problem: err.Error(), Err: err}
	}
	return nil
}

// trustPolicy builds the notation trust policy for one root: the policy's
// level and identities, trusting only that root (and the listed TSA roots).
// The root is named as both a CA and a signing authority: notation-go reads
// the store of the signature's scheme, and memTrustStore refuses the one
// that is not the certificate's kind, saying so; a notary.x509 signature
// never chains to a signing authority, nor the reverse.
func trustPolicy(req *NotationRequirement, root, kind string) *trustpolicy.Document {
	stores := []string{string(truststore.TypeCA) + ":" + root, string(truststore.TypeSigningAuthority) + ":" + root}
	for _, t := range req.TSA {
		stores = append(stores, string(truststore.TypeTSA)+":"+t)
	}
	return &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:                  "signgate",
			RegistryScopes:        []string{"*"},
			SignatureVerification: signatureVerification(req, kind),
			TrustStores:           stores,
			TrustedIdentities:     req.Identities,
		}},
	}
}

// signatureVerification is notation's level for req under a root of
// kind, tightened where "permissive" would only log what signgate relies
// on: under a signing_authority root the revocation check is the plugin's
// answer that the signing profile still stands, so it is enforced unless
// revocation is set; with tsa roots listed, the timestamp (and the
// signature's expiry) is what keeps a short-lived certificate's signature
// valid, so both are enforced.
func signatureVerification(req *NotationRequirement, kind string) trustpolicy.SignatureVerification {
	sv := trustpolicy.SignatureVerification{VerificationLevel: req.Level, VerifyTimestamp: trustpolicy.OptionAlways}
	if req.AfterCertExpiry {
		sv.VerifyTimestamp = trustpolicy.OptionAfterCertExpiry
	}
	override := map[trustpolicy.ValidationType]trustpolicy.ValidationAction{}
	switch {
	case req.Revocation != "":
		override[trustpolicy.TypeRevocation] = trustpolicy.ValidationAction(req.Revocation)
	case kind == keystore.CertSigningAuthority:
		override[trustpolicy.TypeRevocation] = trustpolicy.ActionEnforce
	}
	if len(req.TSA) > 0 {
		override[trustpolicy.TypeAuthenticTimestamp] = trustpolicy.ActionEnforce
		override[trustpolicy.TypeExpiry] = trustpolicy.ActionEnforce
	}
	if len(override) > 0 {
		sv.Override = override
	}
	return sv
}

// Verify checks img's Notary Project signatures against each listed root.
// An error means the signatures could not be read.
func (v *notationVerifier) Verify(ctx context.Context, img name.Digest, req *NotationRequirement, keys *keystore.Store, plugins map[string]*NotationPlugin) (*NotationResult, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	repo, err := v.Registry.Repository(img.Context())
	if err != nil {
		return nil, err
	}
	v.once.Do(func() {
		now := v.now
		if now == nil {
			now = time.Now
		}
		v.options, v.optErr = revocationOptions(now)
	})
	if v.optErr != nil {
		return nil, v.optErr
	}
	if len(req.TSA) > 0 && !slices.ContainsFunc(req.Roots, func(r string) bool { c, ok := keys.Cert(r); return !ok || c.Kind != keystore.CertSigningAuthority }) {
		return nil, &PolicyError{Field: "tsa", Problem: ErrTSAUnderAuthority.Error(), Err: ErrTSAUnderAuthority}
	}
	res := &NotationResult{Requirement: req.Rule(), Level: req.Level, Signers: map[string]string{}, Rejections: map[string]string{}}
	noSignatures := false
	for _, root := range req.Roots {
		c, ok := keys.Cert(root)
		if !ok {
			res.Rejections[root] = "not in the keystore"
			continue
		}
		if c.Kind == keystore.CertSigningAuthority && slices.Contains(req.Identities, "*") {
			// A signing authority's root signs for every customer of the
			// service: "*" would trust them all.
			res.Rejections[root] = ErrAuthorityWildcard.Error()
			continue
		}
		vf, err := v.verifier(req, root, keys)
		if err != nil {
			return nil, fmt.Errorf("notation trust policy for root %q: %w", root, err)
		}
		pctx, run := withPluginRun(ctx, plugins, root, c.Kind)
		var nrepo notationregistry.Repository = notationregistry.NewRepository(repo)
		if v.Listing != nil && listingShared(ctx) {
			nrepo = sharedListing{Repository: nrepo, img: img, opts: v.Listing}
		}
		_, outcomes, err := notation.Verify(pctx, vf, nrepo, notation.VerifyOptions{
			ArtifactReference:    img.String(),
			MaxSignatureAttempts: maxNotationSignatures,
		})
		if a := run.answer(); a != nil {
			if res.Plugins == nil {
				res.Plugins = map[string]*PluginAnswer{}
			}
			res.Plugins[root] = a
		}
		var retrieval notation.SignatureRetrievalFailedError
		switch {
		case err == nil:
			res.RootsVerified = append(res.RootsVerified, root)
			if len(outcomes) > 0 && outcomes[0].EnvelopeContent != nil && len(outcomes[0].EnvelopeContent.SignerInfo.CertificateChain) > 0 {
				res.Signers[root] = outcomes[0].EnvelopeContent.SignerInfo.CertificateChain[0].Subject.String()
			}
		// notation-go reports "no signatures" and "could not read them" as
		// one type; only its message tells them apart (notation.go in
		// notation-go v1.3).
		case errors.As(err, &retrieval) && strings.Contains(err.Error(), "no signature is associated"):
			noSignatures = true
		case errors.As(err, &retrieval):
			return nil, fmt.Errorf("reading notation signatures of %s: %w", img, err)
		case run.answer() != nil && run.answer().Error != "":
			// The plugin's own failure says more than notation-go's
			// wrapping of it ("make sure the plugin is installed").
			a := run.answer()
			res.Rejections[root] = fmt.Sprintf("the signature names verification plugin %q: %s", a.Plugin, a.Error)
		default:
			res.Rejections[root] = notationReason(err)
		}
		if noSignatures {
			break
		}
	}
	sort.Strings(res.RootsVerified)
	material := map[string]map[string]bool{}
	for _, r := range res.RootsVerified {
		if c, ok := keys.Cert(r); ok {
			material[r] = map[string]bool{c.Fingerprint: true}
		}
	}
	distinct := distinctSigners(res.RootsVerified, material)
	switch {
	case noSignatures:
		res.none = true
		res.Reason = "no Notary Project signatures found"
	case len(res.RootsVerified) < req.Threshold:
		res.Reason = fmt.Sprintf("requires %s; verified by %s", req.Rule(), listOrNone(res.RootsVerified))
		if why := firstRejection(res.Rejections, req.Roots); why != "" {
			res.Reason += " (" + why + ")"
		}
	case distinct < req.Threshold:
		res.Reason = fmt.Sprintf("requires %s; verified by %s, but they are %d distinct root(s): %s",
			req.Rule(), strings.Join(res.RootsVerified, ", "), distinct, sharedMaterial(res.RootsVerified, material))
	default:
		res.Satisfied = true
		res.Reason = fmt.Sprintf("requires %s; verified by %s", req.Rule(), strings.Join(res.RootsVerified, ", "))
	}
	return res, nil
}

// notationReason turns notation-go's joined error into one line.
func notationReason(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "signature verification failed" {
			parts = append(parts, l)
		}
	}
	if len(parts) == 0 {
		return err.Error()
	}
	return strings.Join(parts, "; ")
}

func firstRejection(rej map[string]string, order []string) string {
	for _, r := range order {
		if why, ok := rej[r]; ok {
			return r + ": " + why
		}
	}
	return ""
}

// ErrTSAUnderAuthority is why tsa is refused for a requirement whose roots
// are all signing authorities': notation-go never looks for a timestamp on
// a notary.x509.signingAuthority signature (it trusts the signing time the
// service signed), so tsa and verify_timestamp would promise a check that
// never happens.
var ErrTSAUnderAuthority = errors.New("every root listed is a signing_authority, and a notary.x509.signingAuthority signature is never checked for a timestamp (notation trusts the signing time the service signed); remove tsa")

// ErrAuthorityWildcard is why a signing authority's root is not trusted
// for any identity.
var ErrAuthorityWildcard = errors.New(`a signing authority's root signs for every customer of the service, so trusted_identities = ["*"] would trust them all; name the signing profiles`)

// memTrustStore serves the keystore's certificates to notation-go as the
// named trust stores "ca:<name>", "signingAuthority:<name>" and
// "tsa:<name>", each only for a certificate of that kind.
type memTrustStore struct{ keys *keystore.Store }

// storeKinds: notation's trust store types, by signgate's certificate kind.
var storeKinds = map[truststore.Type]string{
	truststore.TypeCA:               keystore.CertCA,
	truststore.TypeSigningAuthority: keystore.CertSigningAuthority,
	truststore.TypeTSA:              keystore.CertTSA,
}

func (s memTrustStore) GetCertificates(_ context.Context, t truststore.Type, named string) ([]*x509.Certificate, error) {
	c, ok := s.keys.Cert(named)
	if !ok {
		return nil, fmt.Errorf("no certificate %q in signgate's keystore", named)
	}
	if want := storeKinds[t]; want == "" || c.Kind != want {
		return nil, fmt.Errorf("certificate %q is of kind %q, and a %s signature needs a %q root", named, c.Kind, schemeOf(t), want)
	}
	return c.Certs, nil
}

// schemeOf names the signing scheme whose signatures notation-go checks
// against a trust store of type t.
func schemeOf(t truststore.Type) string {
	switch t {
	case truststore.TypeSigningAuthority:
		return "notary.x509.signingAuthority"
	case truststore.TypeTSA:
		return "timestamp's"
	}
	return "notary.x509"
}
