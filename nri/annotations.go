package nri

import (
	"strings"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/verify"
)

// The annotations an allowed container carries in its runtime spec (crictl
// inspect, audit tools reading config.json): which policy admitted which
// digest, and what verified it. Nothing else is adjusted.
const (
	AnnotationPolicy     = "signgate.dev/policy"
	AnnotationDigest     = "signgate.dev/digest"
	AnnotationDecision   = "signgate.dev/decision"    // verified, audit (allowed unverified) or allowed_by_policy
	AnnotationVerifiedBy = "signgate.dev/verified-by" // "cosign: release; attestation provenance: ci"
	// AnnotationManifest is the digest whose signatures verified: the
	// digest above, or the platform manifest of that index which runs.
	AnnotationManifest = "signgate.dev/verified-manifest"
)

func annotations(v *verify.Verdict) *api.ContainerAdjustment {
	adj := &api.ContainerAdjustment{}
	decision := string(v.Cause)
	if !v.Verified && v.Mode == verify.Audit {
		decision = "audit"
	}
	adj.AddAnnotation(AnnotationPolicy, v.Policy)
	adj.AddAnnotation(AnnotationDigest, v.Digest)
	adj.AddAnnotation(AnnotationDecision, decision)
	if by := v.VerifiedBy(); len(by) > 0 {
		adj.AddAnnotation(AnnotationVerifiedBy, strings.Join(by, "; "))
	}
	if v.Manifest != "" {
		adj.AddAnnotation(AnnotationManifest, v.Manifest)
	}
	return adj
}
