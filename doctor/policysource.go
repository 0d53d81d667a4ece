package doctor

import (
	"fmt"
	"time"
)

// PolicySource is the node's [policy_source], as its state file shows it.
type PolicySource struct {
	Reference    string
	Serial       int64     // the policy in force; 0 for none
	Digest       string    // its artifact
	Verified     time.Time // when the source last confirmed it
	Expires      time.Time // its signed expires; zero for none
	MaxStaleness time.Duration
	DenyStale    bool
	KeptError    string // why the kept policy is not used; "" when it is
	Refusals     int    // policies refused, across the policies taken
	// The last refusal: when, which artifact, and why.
	RefusedAt     time.Time
	RefusedDigest string
	RefusedReason string
	RefusedError  string
}

// policySourceFindings: a verified policy is in force and current, and
// whether anything was refused.
func policySourceFindings(p PolicySource, now time.Time) []Finding {
	f := Finding{Guarantee: fmt.Sprintf("the policy in force was verified from %s and is current", p.Reference)}
	switch {
	case p.Serial == 0:
		f.Detail = "no policy from the source has been verified: every image is denied until one is"
		if p.KeptError != "" {
			f.Detail += " (the kept one is not used: " + p.KeptError + ")"
		}
	case !p.Expires.IsZero() && !now.Before(p.Expires):
		what := "it stays in force"
		if p.DenyStale {
			what = "every image is denied (on_stale = \"deny\")"
		}
		f.Detail = fmt.Sprintf("expired: serial %d (%s) was signed to expire at %s; %s until a newer policy is published at %s (a source still serving it is frozen)",
			p.Serial, p.Digest, p.Expires.UTC().Format(time.RFC3339), what, p.Reference)
	case p.MaxStaleness > 0 && now.Sub(p.Verified) > p.MaxStaleness:
		what := "it stays in force"
		if p.DenyStale {
			what = "every image is denied (on_stale = \"deny\")"
		}
		f.Detail = fmt.Sprintf("stale: serial %d (%s) was last confirmed at %s, %s ago, beyond max_staleness (%s); %s until %s is reached",
			p.Serial, p.Digest, p.Verified.UTC().Format(time.RFC3339), now.Sub(p.Verified).Round(time.Second), p.MaxStaleness, what, p.Reference)
	default:
		f.Holds = true
		f.Detail = fmt.Sprintf("serial %d (%s), last confirmed at %s", p.Serial, p.Digest, p.Verified.UTC().Format(time.RFC3339))
	}
	out := []Finding{f}
	r := Finding{Guarantee: "no policy from the source was refused", Holds: p.RefusedReason == ""}
	if r.Holds {
		r.Detail = "every policy fetched verified, and none went backwards"
	} else {
		r.Detail = fmt.Sprintf("%d refused; the last at %s: %s (%s): %s. The one in force stayed; find who published it",
			max(p.Refusals, 1), p.RefusedAt.UTC().Format(time.RFC3339), p.RefusedDigest, p.RefusedReason, p.RefusedError)
	}
	return append(out, r)
}
