package policysource

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// Fetched is a policy artifact whose signatures verified.
type Fetched struct {
	Reference string // as configured
	Digest    string // the manifest the signatures cover
	Body      []byte
	Fragment  *config.Fragment
	Verdict   *verify.Verdict
}

// RefusedError is a policy that was reached and is not trusted: the one in
// force stays. Any other error from Fetch means the source was not reached
// (or answered nothing usable), which is not a refusal.
type RefusedError struct {
	Digest string
	Reason string // unsigned, untrusted, rollback, malformed
	Err    error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Reason is the word a refusal is counted under; "" for an error that is
// not a refusal (the source was unreachable).
func Reason(err error) string {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason
	}
	var rb *RollbackError
	if errors.As(err, &rb) {
		return "rollback"
	}
	return ""
}

// Scope is the repository a source's reference names, as the policy that
// verifies it is scoped.
func Scope(ref string) (string, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return "", fmt.Errorf("policy_source.reference = %q: %w", ref, err)
	}
	return verify.CanonicalRepo(r.Context())
}

// Fetch resolves ref to a digest, has engine verify that digest as it
// verifies an image (its one policy is the source's signers), then reads
// the artifact by that same digest, so what is read is what was signed.
func Fetch(ctx context.Context, engine *verify.Engine, reg *registry.Client, ref string, maxBlob int64) (*Fetched, error) {
	r, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("policy_source.reference = %q: %w", ref, err)
	}
	opts, err := reg.Options(ctx, r.Context())
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", ref, err)
	}
	d, ok := r.(name.Digest)
	if !ok {
		desc, err := remote.Head(r, opts...)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", ref, err)
		}
		d = r.Context().Digest(desc.Digest.String())
	}
	v := engine.Decide(ctx, verify.Request{Image: d, Platform: d.DigestStr()})
	if !v.Allowed || !v.Verified {
		err := fmt.Errorf("policy %s (%s) is not trusted: %s: %s", ref, d.DigestStr(), v.Cause, v.Reason)
		switch v.Cause {
		case verify.CauseRegistryError, verify.CauseRateLimited, verify.CausePending:
			return nil, err // not reached: no verdict on the policy itself
		case verify.CauseNoSignatures:
			return nil, &RefusedError{Digest: d.DigestStr(), Reason: "unsigned", Err: err}
		default:
			return nil, &RefusedError{Digest: d.DigestStr(), Reason: "untrusted", Err: err}
		}
	}
	img, err := remote.Image(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", d, err)
	}
	body, frag, err := Read(fmt.Sprintf("policy %s", d), img, maxBlob)
	if err != nil {
		return nil, &RefusedError{Digest: d.DigestStr(), Reason: "malformed", Err: err}
	}
	return &Fetched{Reference: ref, Digest: d.DigestStr(), Body: body, Fragment: frag, Verdict: v}, nil
}
