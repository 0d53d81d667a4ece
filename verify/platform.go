package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// SignedManifest says whose signatures count for an image containerd
// records as an index: the index's, those of the platform manifest the
// container runs (what `cosign sign --recursive` and CI that signs each
// platform's build produce), or either. For a plain manifest the two are
// one, and all three settings count its signatures.
type SignedManifest string

// Where signatures count.
const (
	SignedIndex    SignedManifest = "index"
	SignedPlatform SignedManifest = "platform"
	SignedEither   SignedManifest = "either" // the default ("")
)

// validate says what is wrong with m, if anything.
func (m SignedManifest) validate() error {
	switch m {
	case "", SignedIndex, SignedPlatform, SignedEither:
		return nil
	}
	return &PolicyError{Field: fmt.Sprintf("signed_manifest = %q", string(m)), Problem: `want "index", "platform" or "either"`}
}

// target is one manifest whose signatures are checked, and what it is.
type target struct {
	img  name.Digest
	what string // "index" or "platform manifest"
}

// targets are the manifests whose signatures count under p for img, where
// platform is the digest of the manifest that runs ("" when not known), in
// the order tried. With none, why says so.
func targets(p *Policy, img name.Digest, platform string) (ts []target, why string) {
	var plat *target
	switch {
	case platform == img.DigestStr():
		// A plain manifest: its own signatures are the index's too.
		return []target{{img, ""}}, ""
	case platform != "":
		if d, err := name.NewDigest(img.Context().Name() + "@" + platform); err == nil {
			plat = &target{d, "platform manifest"}
		}
	}
	index := target{img, "index"}
	switch p.SignedManifest {
	case SignedIndex:
		return []target{{img, ""}}, ""
	case SignedPlatform:
		if plat == nil {
			return nil, fmt.Sprintf("signed_manifest = %q counts the signatures of the platform manifest that runs, and which one runs is not known here", SignedPlatform)
		}
		return []target{*plat}, ""
	}
	if plat == nil {
		return []target{{img, ""}}, ""
	}
	return []target{index, *plat}, ""
}

// checkManifests checks the manifests whose signatures count, in order,
// until one meets every requirement of p: each manifest is judged whole,
// signatures and attestations alike, so requirements are never met half
// on one manifest and half on another.
func (e *Engine) checkManifests(ctx context.Context, snap *Snapshot, p *Policy, img name.Digest, platform string) (outcome, string) {
	ts, why := targets(p, img, platform)
	if len(ts) == 0 {
		return outcome{cause: CauseNoSignatures, reason: fmt.Sprintf("policy %q: %s", p.Name, why)}, ""
	}
	var failed []outcome
	for _, t := range ts {
		o := e.check(ctx, snap, p, t.img)
		if t.what != "" {
			o.reason = onManifest(p, t, o.reason)
		}
		if o.cause == CauseVerified {
			return o, t.img.DigestStr()
		}
		failed = append(failed, o)
	}
	if len(failed) == 1 {
		return failed[0], ""
	}
	// Denied on each: the more telling cause, each manifest's reason, and
	// the detail of the one that cause is from.
	out := failed[0]
	reasons := []string{failed[0].reason}
	silent := out.silent
	for _, o := range failed[1:] {
		reasons = append(reasons, strings.TrimPrefix(o.reason, fmt.Sprintf("policy %q: ", p.Name)))
		silent = silent || o.silent
		if c := worse(out.cause, o.cause); c != out.cause {
			out = o
		}
	}
	out.reason, out.silent = strings.Join(reasons, "; "), silent
	return out, ""
}

// onManifest says which manifest a reason is about.
func onManifest(p *Policy, t target, reason string) string {
	prefix := fmt.Sprintf("policy %q: ", p.Name)
	what := fmt.Sprintf("on the %s %s: ", t.what, t.img.DigestStr())
	if t.what == "index" {
		what = "on the index: "
	}
	if strings.HasPrefix(reason, prefix) {
		return prefix + what + strings.TrimPrefix(reason, prefix)
	}
	return what + reason
}
