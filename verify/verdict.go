package verify

import (
	"strings"
	"time"
)

// Cause says, in a word a program can switch on, why a verdict is what it
// is; Reason explains it to a person and may be reworded at any time.
// Metrics, the decision log and tests use the cause.
type Cause string

// The causes. An audit policy's verdict is allowed whatever its cause.
const (
	CauseVerified          Cause = "verified"           // the policy's requirements were met
	CauseAllowedByPolicy   Cause = "allowed_by_policy"  // mode "allow": not verified, by choice
	CauseNoPolicy          Cause = "no_policy"          // no policy governs the image
	CauseDeniedByPolicy    Cause = "denied_by_policy"   // mode "deny": not verified, denied by choice (or for a delegation without a fragment in force)
	CauseNoSignatures      Cause = "no_signatures"      // none of the kinds required was found
	CauseUntrusted         Cause = "untrusted"          // signatures found, but not enough by trusted keys
	CauseNoAttestation     Cause = "no_attestation"     // an attestation the policy requires was not found
	CauseAttestationFailed Cause = "attestation_failed" // attestations found, but none trusted that passes the conditions
	CauseRegistryError     Cause = "registry_error"     // signatures could not be read: we do not know
	CauseRateLimited       Cause = "rate_limited"       // the registry asked signgate to wait longer than the decision could: we do not know
	CausePending           Cause = "pending"            // still verifying at the deadline
	CauseMisconfigured     Cause = "misconfigured"      // the policy cannot be applied as written
	CauseImageUnknown      Cause = "image_unknown"      // the digest that will run could not be determined (made by nri and the CLI, never the engine)
	CauseRootFSMismatch    Cause = "rootfs_mismatch"    // what runs is not the image named (made by nri, never the engine)
	CauseImageMismatch     Cause = "image_mismatch"     // the runtime's own record of the image disagrees with its image store (made by nri, never the engine)
	CauseBadName           Cause = "bad_name"           // the image's registry is spelled in a way that cannot be tied to one registry
)

// Deny is a refusal made before the engine is asked, or instead of it: the
// image (a repository or whatever names it best), its digest when known, the
// cause and the reason a person reads. Every verdict outside this package
// is made here or by the engine.
//
// The engine is given a digest and decides it, so it never produces
// image_unknown, rootfs_mismatch or image_mismatch: they come through Deny
// from what works out which digest runs. Package nri makes all three (no image name, a lookup failed;
// layers, config or checkpoint not the image's own; the runtime's record
// against its image store); the signgate CLI makes image_unknown for a
// reference that does not resolve.
func Deny(image, digest string, cause Cause, reason string) *Verdict {
	return &Verdict{Image: image, Digest: digest, Cause: cause, Reason: reason}
}

// Verdict is the engine's answer, with enough detail to explain it.
type Verdict struct {
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Platform is the digest of the platform manifest that runs, when
	// Digest is an index and it is known.
	Platform string `json:"platform,omitempty"`
	// Manifest is the digest whose signatures verified the image: Digest,
	// or Platform (see Policy.SignedManifest). Empty unless verified.
	Manifest string `json:"manifest,omitempty"`
	Policy   string `json:"policy,omitempty"`
	Mode     Mode   `json:"mode,omitempty"`
	Allowed  bool   `json:"allowed"`
	Cause    Cause  `json:"cause"`
	Verified bool   `json:"verified"` // the policy's requirements were met
	Pending  bool   `json:"pending,omitempty"`
	Cached   bool   `json:"cached,omitempty"`
	// Renewed: an expired allow kept for another allow_ttl, its registry
	// answering as it did (see Engine.renew), not verified in full.
	Renewed bool `json:"renewed,omitempty"`
	// Answered: a registry_error or rate_limited verdict whose failed
	// reads all had an HTTP answer from the registry (a 401, 429, 5xx;
	// registry.Answered): it is up and refuses, not silent. False for one
	// it gave none (unreachable, timed out): only that counts toward
	// stop_unanswered_after.
	Answered bool            `json:"answered,omitempty"`
	Reason   string          `json:"reason"`
	Cosign   *CosignResult   `json:"cosign,omitempty"`
	Notation *NotationResult `json:"notation,omitempty"`
	// Attestations: one result per attestation the policy requires.
	Attestations []*AttestationResult `json:"attestations,omitempty"`
	Snapshot     string               `json:"snapshot"`
	Took         time.Duration        `json:"took_ns"`
}

// Decision is "allow" or "deny", for logs.
func (v *Verdict) Decision() string {
	if v.Allowed {
		return "allow"
	}
	return "deny"
}

// VerifiedBy names what verified the image, kind by kind: "cosign: k1",
// "notation: root", "attestation provenance: k2". Empty unless verified.
func (v *Verdict) VerifiedBy() []string {
	if !v.Verified {
		return nil
	}
	var out []string
	if v.Cosign != nil && v.Cosign.Satisfied {
		out = append(out, "cosign: "+strings.Join(v.Cosign.KeysVerified, ", "))
	}
	if v.Notation != nil && v.Notation.Satisfied {
		out = append(out, "notation: "+strings.Join(v.Notation.RootsVerified, ", "))
	}
	for _, a := range v.Attestations {
		if a.Satisfied {
			out = append(out, "attestation "+a.Name+": "+strings.Join(a.KeysVerified, ", "))
		}
	}
	return out
}

// FailedConditions lists, for each required attestation, the conditions
// its verified attestations failed: "provenance: builders = [...]: built
// by ...".
func (v *Verdict) FailedConditions() []string {
	var out []string
	for _, a := range v.Attestations {
		for _, s := range a.Attestations {
			for _, f := range s.Failed {
				out = append(out, a.Name+": "+f)
			}
		}
	}
	return out
}

// compact is an allow verdict as the cache keeps it, possibly for hours
// and by the ten thousand: what decisions, logs and annotations read (each
// kind's requirement, who verified, the reasons), without each signature's
// and attestation's own detail, which the verification that made it
// reported.
func (v *Verdict) compact() *Verdict {
	c := *v
	if v.Cosign != nil {
		cs := *v.Cosign
		cs.Signatures = nil
		c.Cosign = &cs
	}
	if len(v.Attestations) > 0 {
		c.Attestations = make([]*AttestationResult, len(v.Attestations))
		for i, a := range v.Attestations {
			ca := *a
			ca.Attestations = nil
			c.Attestations[i] = &ca
		}
	}
	return &c
}
