package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/cosign/v3/pkg/cosign"
	cbundle "github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	"github.com/sigstore/cosign/v3/pkg/oci"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
)

// TrustRoot is Sigstore trust material (a trusted_root.json): the Fulcio
// certificate authorities, Rekor logs, certificate transparency logs and
// timestamp authorities keyless signatures are checked against, offline.
type TrustRoot struct {
	Name     string
	Source   string // where it was read from, for messages
	Digest   string // sha256 of its JSON: verdicts are bound to it
	Material root.TrustedMaterial

	// Verified is when a TUF update last vouched for it; zero for a file
	// named by path, trusted for as long as the config names it.
	Verified time.Time
	// NotAfter is when it stops being trusted unless a TUF update vouches
	// for it again (zero: never), so a mirror that is cut off, or frozen by
	// an attacker, cannot keep an old trust root in force; Limit says what
	// set it.
	NotAfter time.Time
	Limit    string
}

// Stale says why the trust root is no longer trusted at now; "" while it is.
func (tr *TrustRoot) Stale(now time.Time) string {
	if tr == nil || tr.NotAfter.IsZero() || now.Before(tr.NotAfter) {
		return ""
	}
	return fmt.Sprintf("trust root %q is stale: last verified from its TUF repository at %s, %s ago, and trusted only until %s (%s), %s ago",
		tr.Name, tr.Verified.UTC().Format(time.RFC3339), now.Sub(tr.Verified).Round(time.Second),
		tr.NotAfter.UTC().Format(time.RFC3339), tr.Limit, now.Sub(tr.NotAfter).Round(time.Second))
}

// LoadTrustRoot reads a trusted_root.json.
func LoadTrustRoot(name, path string) (*TrustRoot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTrustRoot(name, path, b)
}

// ParseTrustRoot reads a trusted_root.json's content; path names it.
func ParseTrustRoot(name, path string, b []byte) (*TrustRoot, error) {
	tr, err := root.NewTrustedRootFromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%s: not a Sigstore trusted root: %w", path, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 {
		return nil, fmt.Errorf("%s: names no certificate authority, so no keyless signature could verify", path)
	}
	sum := sha256.Sum256(b)
	return &TrustRoot{Name: name, Source: path, Digest: "sha256:" + hex.EncodeToString(sum[:]), Material: tr}, nil
}

// Tlog says what a policy asks of the transparency log.
type Tlog string

const (
	// TlogRequire: every signature must carry a log entry (an inclusion
	// promise or proof) that verifies against the trust root's logs.
	TlogRequire Tlog = "require"
	// TlogIfPresent: an entry, when a signature carries one, must verify;
	// a signature without one needs a signed timestamp instead.
	TlogIfPresent Tlog = "if-present"
	// TlogOff: log entries are not checked; a keyless signature then needs
	// a signed (RFC 3161) timestamp to prove when it was made.
	TlogOff Tlog = "off"
)

// ParseTlog reads a policy's tlog setting ("" is require).
func ParseTlog(s string) (Tlog, error) {
	switch t := Tlog(s); t {
	case "":
		return TlogRequire, nil
	case TlogRequire, TlogIfPresent, TlogOff:
		return t, nil
	}
	return "", fmt.Errorf("tlog = %q: want \"require\", \"if-present\" or \"off\"", s)
}

// Identity is a keyless signer: whom a Fulcio certificate under a trust
// root must name. Subjects and issuers are exact, or regular expressions
// that must match the whole value. Extensions, when set, must equal the
// certificate's (Fulcio's OIDs: source repository, ref, build trigger...).
type Identity struct {
	Name          string
	TrustRoot     string
	Issuer        string
	IssuerRegexp  string
	Subject       string
	SubjectRegexp string
	Extensions    certificate.Extensions
}

// anchor makes a user's pattern match whole values: sigstore-go (and
// cosign) match regular expressions anywhere in the value, so
// "https://github.com/org/" would also admit "https://evil/?https://github.com/org/".
func anchor(re string) string {
	if re == "" {
		return ""
	}
	return "^(?:" + re + ")$"
}

// Matcher compiles the identity for sigstore-go, anchored.
func (id *Identity) Matcher() (sgverify.CertificateIdentity, error) {
	if (id.Subject == "") == (id.SubjectRegexp == "") {
		return sgverify.CertificateIdentity{}, fmt.Errorf("identities.%s: give subject or subject_regexp, one of them", id.Name)
	}
	if (id.Issuer == "") == (id.IssuerRegexp == "") {
		return sgverify.CertificateIdentity{}, fmt.Errorf("identities.%s: give issuer or issuer_regexp, one of them", id.Name)
	}
	for k, re := range map[string]string{"subject_regexp": id.SubjectRegexp, "issuer_regexp": id.IssuerRegexp} {
		if _, err := regexp.Compile(re); err != nil {
			return sgverify.CertificateIdentity{}, fmt.Errorf("identities.%s.%s: %w", id.Name, k, err)
		}
	}
	san, err := sgverify.NewSANMatcher(id.Subject, anchor(id.SubjectRegexp))
	if err != nil {
		return sgverify.CertificateIdentity{}, err
	}
	iss, err := sgverify.NewIssuerMatcher(id.Issuer, anchor(id.IssuerRegexp))
	if err != nil {
		return sgverify.CertificateIdentity{}, err
	}
	return sgverify.NewCertificateIdentity(san, iss, id.Extensions)
}

// String is the identity as a message names it.
func (id *Identity) String() string {
	s, i := id.Subject, id.Issuer
	if s == "" {
		s = "/" + id.SubjectRegexp + "/"
	}
	if i == "" {
		i = "/" + id.IssuerRegexp + "/"
	}
	return fmt.Sprintf("%s (issuer %s)", s, i)
}

// Signer is an identity ready to verify: its matcher and its trust root.
type Signer struct {
	*Identity
	Root  *TrustRoot
	match sgverify.CertificateIdentity
}

// NewSigner resolves id against its trust root.
func NewSigner(id *Identity, tr *TrustRoot) (*Signer, error) {
	if tr == nil || tr.Material == nil {
		return nil, fmt.Errorf("identities.%s: trust root %q is not loaded", id.Name, id.TrustRoot)
	}
	m, err := id.Matcher()
	if err != nil {
		return nil, err
	}
	return &Signer{Identity: id, Root: tr, match: m}, nil
}

// certSummary is what a certificate says of its holder.
func certSummary(cert *x509.Certificate) (certificate.Summary, error) {
	return certificate.SummarizeCertificate(cert)
}

// mismatch says why cert is not this identity, naming both; nil if it is.
func (s *Signer) mismatch(cert *x509.Certificate) error {
	sum, err := certSummary(cert)
	if err != nil {
		return fmt.Errorf("the certificate's identity cannot be read: %w", err)
	}
	if err := s.match.Verify(sum); err != nil {
		return fmt.Errorf("signed by %s (issuer %s), not by %s: %w", sum.SubjectAlternativeName, sum.Issuer, s.Identity, err)
	}
	return nil
}

// needSCT: a trust root that names certificate transparency logs says its
// CA's certificates are logged, so a certificate must carry an SCT from one
// of them. A root with no CT log (a private CA) cannot ask that.
func (s *Signer) needSCT() bool { return len(s.Root.Material.CTLogs()) > 0 }

// verifierOptions are sigstore-go's checks for a keyless signature under
// mode, given what the signature carries: an SCT where the trust root has
// CT logs, a log entry as mode says, and a time the certificate was valid
// at from the log or a signed timestamp, never the clock (Fulcio
// certificates live ten minutes).
func verifierOptions(mode Tlog, hasTlog, needSCT bool) []sgverify.VerifierOption {
	opts := []sgverify.VerifierOption{sgverify.WithObserverTimestamps(1)}
	if needSCT {
		opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
	}
	if mode == TlogRequire || (mode == TlogIfPresent && hasTlog) {
		opts = append(opts, sgverify.WithTransparencyLog(1))
	}
	return opts
}

// ErrNoObserverTime: a keyless signature with no log entry and no signed
// timestamp cannot show when it was made.
var ErrNoObserverTime = errors.New("no transparency log entry or signed timestamp proves when the certificate was used")

// bundleVerified is what a keyless bundle that verified showed: its
// certificate, log entries (those the policy checked) and the times
// sigstore-go verified.
type bundleVerified struct {
	*sgverify.VerificationResult
	cert    *x509.Certificate
	entries []*tlog.Entry
}

// verifyBundle checks a Sigstore bundle against the signer. The statement
// (what was signed) is checked apart (checkStatement).
func (s *Signer) verifyBundle(b *sgbundle.Bundle, h v1.Hash, mode Tlog) (*bundleVerified, error) {
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, fmt.Errorf("malformed bundle: %w", err)
	}
	cert := vc.Certificate()
	if cert == nil {
		return nil, errKeyNotCert
	}
	if err := s.mismatch(cert); err != nil {
		return nil, err
	}
	entries, err := b.TlogEntries()
	if err != nil {
		return nil, fmt.Errorf("malformed bundle: its log entries: %w", err)
	}
	if mode == TlogOff {
		entries = nil
	}
	ts, err := b.Timestamps()
	if err != nil {
		return nil, fmt.Errorf("malformed bundle: its timestamps: %w", err)
	}
	if len(entries) == 0 && len(ts) == 0 {
		return nil, ErrNoObserverTime
	}
	v, err := sgverify.NewVerifier(s.Root.Material, verifierOptions(mode, len(entries) > 0, s.needSCT())...)
	if err != nil {
		return nil, fmt.Errorf("trust root %q: %w", s.Root.Name, err)
	}
	digest, err := hex.DecodeString(h.Hex)
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", h, err)
	}
	res, err := v.Verify(b, sgverify.NewPolicy(sgverify.WithArtifactDigest(h.Algorithm, digest), sgverify.WithCertificateIdentity(s.match)))
	if err != nil {
		return nil, keylessReason(err, s)
	}
	return &bundleVerified{VerificationResult: res, cert: cert, entries: entries}, nil
}

// verifyLegacy checks a signature from the .sig tag (certificate, chain,
// Rekor bundle and RFC 3161 annotations) against the signer, with cosign,
// and returns the Rekor bundle it carries (nil: none).
func (s *Signer) verifyLegacy(ctx context.Context, sig oci.Signature, h v1.Hash, mode Tlog, attestation bool) (*cbundle.RekorBundle, error) {
	cert, err := sig.Cert()
	if err != nil {
		return nil, fmt.Errorf("malformed certificate annotation: %w", err)
	}
	if cert == nil {
		return nil, errKeyNotCert
	}
	if err := s.mismatch(cert); err != nil {
		return nil, err
	}
	rb, err := sig.Bundle()
	if err != nil {
		return nil, fmt.Errorf("malformed Rekor bundle annotation: %w", err)
	}
	ts, err := sig.RFC3161Timestamp()
	if err != nil {
		return nil, fmt.Errorf("malformed RFC 3161 timestamp annotation: %w", err)
	}
	hasTlog := rb != nil && mode != TlogOff
	if !hasTlog && ts == nil {
		return nil, ErrNoObserverTime
	}
	co := &cosign.CheckOpts{
		TrustedMaterial: s.Root.Material,
		Identities: []cosign.Identity{{
			Issuer: s.Issuer, IssuerRegExp: anchor(s.IssuerRegexp),
			Subject: s.Subject, SubjectRegExp: anchor(s.SubjectRegexp),
		}},
		ClaimVerifier:       cosign.SimpleClaimVerifier,
		Offline:             true, // never ask Rekor: the bundle annotation is the proof
		IgnoreTlog:          !hasTlog,
		IgnoreSCT:           !s.needSCT(),
		UseSignedTimestamps: ts != nil,
	}
	if mode == TlogRequire && rb == nil {
		return nil, errNoLogEntry
	}
	check := cosign.VerifyImageSignature
	if attestation {
		check, co.ClaimVerifier = cosign.VerifyBlobAttestation, cosign.IntotoSubjectClaimVerifier
	}
	if _, err := check(ctx, sig, h, co); err != nil {
		return nil, keylessReason(err, s)
	}
	// The identity, Fulcio's extensions included (which cosign checks only
	// in their deprecated GitHub form), was matched above.
	return rb, nil
}

// keylessReason shortens a verification error for a denial. sigstore-go
// and cosign have no error values for these cases: their text is all
// there is to tell them apart.
func keylessReason(err error, s *Signer) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "certificate signed by unknown authority") || strings.Contains(msg, "x509: certificate"):
		return excerptf(err, "the certificate does not chain to trust root %q", s.Root.Name)
	case strings.Contains(msg, "signed certificate timestamp") || strings.Contains(msg, "SCT"):
		return excerptf(err, "the certificate carries no valid SCT from a CT log of trust root %q", s.Root.Name)
	case strings.Contains(msg, "invalid or missing digest in claim"):
		return otherImageError("signed by this identity, but for another image")
	}
	return excerptf(err, "does not verify under trust root %q", s.Root.Name)
}
