package policysource

import (
	"fmt"
	"time"

	"github.com/signgate/signgate/config"
)

// NoExpiresReason is the refusal of a policy signed without expires.
const NoExpiresReason = "no_expires"

// RequireExpires refuses a root policy signed without expires unless the
// node's config (at cfgPath) opts out: a signed policy that never expires
// can be served forever by whoever controls the registry or the path, and
// the node never learns of newer ones (a freeze). src names the source
// (its reference or layout), digest the artifact.
func RequireExpires(src, digest string, frag *config.Fragment, allow bool, cfgPath string) error {
	if allow || !frag.Expires.IsZero() {
		return nil
	}
	return &RefusedError{Digest: digest, Reason: NoExpiresReason, Err: fmt.Errorf(
		"policy %s (%s) was signed without expires, so a registry or path serving it could hold this node on it forever: "+
			"publish it with an expiry (signgate policy build --expires), or set policy_source.allow_no_expires_unsafe = true in %s",
		src, digest, cfgPath)}
}

// ExpiresTooFarReason is the refusal of a policy whose signed expires lies
// further ahead than policy_source.max_validity.
const ExpiresTooFarReason = "expires_too_far"

// ExpiredReason is the refusal of a tenant's fragment already past its
// signed expires when fetched.
const ExpiredReason = "expired"

// CheckValidity refuses a policy whose signed expires lies more than max
// past its issue time: one signed to expire in 2100 can be served by a
// frozen registry as long as one that never expires. issued is the
// signature's trusted time (IssuedAt), so every node judges the artifact
// alike whatever its clock; zero when the signature carries none, and
// then now (the node's clock) stands in. src names the source, digest
// the artifact.
func CheckValidity(src, digest string, frag *config.Fragment, max time.Duration, now, issued time.Time, cfgPath string) error {
	from, what := now, "this node's clock"
	if !issued.IsZero() {
		from, what = issued, "its signing time (from its signature's log entry or timestamp)"
	}
	if frag.Expires.IsZero() || max <= 0 || !frag.Expires.After(from.Add(max)) {
		return nil
	}
	return &RefusedError{Digest: digest, Reason: ExpiresTooFarReason, Err: fmt.Errorf(
		"policy %s (%s) expires at %s, more than policy_source.max_validity (%s) past %s (%s): a registry or path serving it could hold this node on it that long; "+
			"publish it with a nearer expiry (signgate policy build --expires), or raise policy_source.max_validity in %s",
		src, digest, frag.Expires.UTC().Format(time.RFC3339), max, what, from.UTC().Format(time.RFC3339), cfgPath)}
}

// CheckFragmentExpires is the checks a signed policy's expires passes at
// each fetch: present unless allowed, and within max of its issue time
// (issued, or now when zero).
func CheckFragmentExpires(src, digest string, frag *config.Fragment, allowNone bool, max time.Duration, now, issued time.Time, cfgPath string) error {
	if err := RequireExpires(src, digest, frag, allowNone, cfgPath); err != nil {
		return err
	}
	return CheckValidity(src, digest, frag, max, now, issued, cfgPath)
}
