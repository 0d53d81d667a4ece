package sigtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	cbundle "github.com/sigstore/cosign/v3/pkg/cosign/bundle"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	"github.com/sigstore/cosign/v3/pkg/oci/static"
	"github.com/sigstore/cosign/v3/pkg/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
)

// Sigstore is a whole Sigstore instance in memory (sigstore-go's virtual
// Sigstore): a Fulcio CA issuing certificates to OIDC identities, a CT log,
// a Rekor log and a timestamp authority. It signs as `cosign sign` does
// keyless, with no network.
type Sigstore struct {
	vs *ca.VirtualSigstore
}

// NewSigstore starts one.
func NewSigstore() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	return &Sigstore{vs: vs}, nil
}

// TrustedRootJSON is the instance's trusted_root.json. The virtual
// Sigstore's certificates carry no SCTs, so its CT log is listed only when
// withCT asks (to see certificates without SCTs refused).
func (s *Sigstore) TrustedRootJSON(withCT bool) ([]byte, error) {
	ct := map[string]*root.TransparencyLog{}
	if withCT {
		ct = rawIDs(s.vs.CTLogs())
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, s.vs.FulcioCertificateAuthorities(), ct, s.vs.TimestampingAuthorities(), rawIDs(s.vs.RekorLogs()))
	if err != nil {
		return nil, err
	}
	return tr.MarshalJSON()
}

// WriteTrustedRoot writes TrustedRootJSON to path.
func (s *Sigstore) WriteTrustedRoot(path string, withCT bool) error {
	b, err := s.TrustedRootJSON(withCT)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// rawIDs: the virtual Sigstore names its logs by the hex of their IDs, as
// bytes; a trusted_root.json holds the IDs themselves.
func rawIDs(logs map[string]*root.TransparencyLog) map[string]*root.TransparencyLog {
	out := make(map[string]*root.TransparencyLog, len(logs))
	for k, l := range logs {
		c := *l
		if id, err := hex.DecodeString(string(l.ID)); err == nil {
			c.ID = id
		}
		out[k] = &c
	}
	return out
}

// KeylessOptions shape a keyless signature, for the cases where part of it
// is missing.
type KeylessOptions struct {
	NoTlog      bool // no transparency log entry
	NoTimestamp bool // no RFC 3161 timestamp
	RekorV2     bool // a Rekor v2 (tiles) entry: an inclusion proof and checkpoint, no promise
	// LogKind replaces the .sig form's log entry with an empty one of
	// this kind (for the cases where a registry sends another kind).
	LogKind string
	// Statement, when set, is signed in place of cosign's sign statement:
	// an attestation.
	Statement []byte
}

// Bundle signs subject's digest as identity (the certificate's subject)
// from issuer (the OIDC issuer), as a Sigstore bundle (v0.3): a DSSE
// in-toto statement with cosign's sign predicate, the Fulcio certificate,
// a Rekor entry with its promise and proof, and a signed timestamp.
func (s *Sigstore) Bundle(subject name.Digest, identity, issuer string, o KeylessOptions) ([]byte, error) {
	alg, hex, ok := strings.Cut(subject.DigestStr(), ":")
	if !ok {
		return nil, fmt.Errorf("bad digest %s", subject)
	}
	stmt := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{%q:%q}}],"predicateType":%q,"predicate":{}}`, alg, hex, types.CosignSignPredicateType)
	if o.Statement != nil {
		stmt = string(o.Statement)
	}
	// The virtual Sigstore's certificates start five minutes ahead.
	var ent *ca.TestEntity
	var err error
	if o.RekorV2 {
		ent, err = s.vs.AttestAtTimeHashedRekordV2(identity, issuer, []byte(stmt), time.Now().Add(5*time.Minute))
	} else {
		ent, err = s.vs.AttestAtTime(identity, issuer, []byte(stmt), time.Now().Add(5*time.Minute), true)
	}
	if err != nil {
		return nil, err
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		return nil, err
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		return nil, err
	}
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		return nil, err
	}
	vm := &protobundle.VerificationMaterial{
		Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
		TimestampVerificationData: &protobundle.TimestampVerificationData{},
	}
	if !o.NoTlog {
		entries, _ := ent.TlogEntries()
		tle := entries[0].TransparencyLogEntry()
		if !o.RekorV2 {
			if tle, err = s.withPromise(entries[0]); err != nil {
				return nil, err
			}
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	}
	if !o.NoTimestamp {
		ts, _ := ent.Timestamps()
		for _, t := range ts {
			vm.TimestampVerificationData.Rfc3161Timestamps = append(vm.TimestampVerificationData.Rfc3161Timestamps, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: t})
		}
	}
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	if _, err := sgbundle.NewBundle(pb); err != nil {
		return nil, fmt.Errorf("bundle does not validate: %w", err)
	}
	return protojson.Marshal(pb)
}

// withPromise completes the log entry as Rekor returns it: the kind and
// version, and the signed entry timestamp (the inclusion promise) that
// the virtual Sigstore keeps to itself.
func (s *Sigstore) withPromise(e *tlog.Entry) (*protorekor.TransparencyLogEntry, error) {
	tle := e.TransparencyLogEntry()
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return nil, err
	}
	set, err := s.vs.RekorSignPayload(tlog.RekorPayload{
		Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: logID,
	})
	if err != nil {
		return nil, err
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle, nil
}

// SignKeyless stores a keyless bundle for img on its referrers.
func (s *Sigstore) SignKeyless(img name.Digest, identity, issuer string, o KeylessOptions, opts ...remote.Option) error {
	return s.SignKeylessFor(img, img, identity, issuer, o, opts...)
}

// SignKeylessFor stores on target's referrers a keyless bundle signing
// subject (another image, for the replay cases).
func (s *Sigstore) SignKeylessFor(target, subject name.Digest, identity, issuer string, o KeylessOptions, opts ...remote.Option) error {
	b, err := s.Bundle(subject, identity, issuer, o)
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(target, b, types.CosignSignPredicateType, ociremote.WithRemoteOptions(opts...))
}

// AttestKeyless stores o.Statement, signed keyless as identity, on img's
// referrers the way `cosign attest` (v3) does.
func (s *Sigstore) AttestKeyless(img name.Digest, predicateType, identity, issuer string, o KeylessOptions, opts ...remote.Option) error {
	b, err := s.Bundle(img, identity, issuer, o)
	if err != nil {
		return err
	}
	return ociremote.WriteAttestationNewBundleFormat(img, b, predicateType, ociremote.WithRemoteOptions(opts...))
}

// SignKeylessLegacy signs img as `cosign sign --new-bundle-format=false`
// does keyless: the simple-signing payload in a layer of the .sig tag,
// with the Fulcio certificate, the Rekor bundle (the entry's promise) and
// an RFC 3161 timestamp in its annotations.
func (s *Sigstore) SignKeylessLegacy(img name.Digest, identity, issuer string, o KeylessOptions, opts ...remote.Option) error {
	p, err := (&payload.Cosign{Image: img}).MarshalJSON()
	if err != nil {
		return err
	}
	ent, err := s.vs.Sign(identity, issuer, p)
	if err != nil {
		return err
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		return err
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})
	sopts := []static.Option{static.WithCertChain(certPEM, nil)}
	if !o.NoTlog {
		entries, _ := ent.TlogEntries()
		tle, err := s.withPromise(entries[0])
		if err != nil {
			return err
		}
		logID, err := s.vs.RekorLogID()
		if err != nil {
			return err
		}
		body := tle.CanonicalizedBody
		if o.LogKind != "" {
			body = []byte(fmt.Sprintf(`{"apiVersion":"0.0.1","kind":%q,"spec":{}}`, o.LogKind))
		}
		sopts = append(sopts, static.WithBundle(&cbundle.RekorBundle{
			SignedEntryTimestamp: tle.InclusionPromise.SignedEntryTimestamp,
			Payload: cbundle.RekorPayload{Body: base64.StdEncoding.EncodeToString(body),
				IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: logID},
		}))
	}
	if !o.NoTimestamp {
		ts, _ := ent.Timestamps()
		sopts = append(sopts, static.WithRFC3161Timestamp(&cbundle.RFC3161Timestamp{SignedRFC3161Timestamp: ts[0]}))
	}
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(sc.Signature()), sopts...)
	if err != nil {
		return err
	}
	return attach(img, sig, opts...)
}

// SignLegacyLogged signs img with a key, as `cosign sign --key` does with
// the transparency log on: the .sig tag's layer carries the Rekor bundle of
// a hashedrekord entry (this Sigstore's log) naming the key.
func (s *Sigstore) SignLegacyLogged(img name.Digest, k *Signer, opts ...remote.Option) error {
	p, err := (&payload.Cosign{Image: img}).MarshalJSON()
	if err != nil {
		return err
	}
	raw, _, err := k.kp.SignData(context.Background(), p)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(p)
	// Rekor's canonical form: JSON with sorted keys and no spaces, which
	// encoding/json writes for maps.
	body, err := json.Marshal(map[string]any{"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": map[string]any{
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
		"signature": map[string]any{"content": base64.StdEncoding.EncodeToString(raw), "publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString([]byte(k.PublicPEM()))}},
	}})
	if err != nil {
		return err
	}
	logID, err := s.vs.RekorLogID()
	if err != nil {
		return err
	}
	rp := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: time.Now().Unix(), LogIndex: 7, LogID: logID}
	set, err := s.vs.RekorSignPayload(rp)
	if err != nil {
		return err
	}
	sig, err := static.NewSignature(p, base64.StdEncoding.EncodeToString(raw), static.WithBundle(&cbundle.RekorBundle{
		SignedEntryTimestamp: set,
		Payload:              cbundle.RekorPayload{Body: rp.Body, IntegratedTime: rp.IntegratedTime, LogIndex: rp.LogIndex, LogID: logID},
	}))
	if err != nil {
		return err
	}
	return attach(img, sig, opts...)
}

// NewTrustedRootJSON is the trusted_root.json of a new in-memory Sigstore:
// a trust root no other test shares.
func NewTrustedRootJSON() ([]byte, error) {
	s, err := NewSigstore()
	if err != nil {
		return nil, err
	}
	return s.TrustedRootJSON(true)
}
