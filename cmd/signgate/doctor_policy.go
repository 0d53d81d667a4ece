package main

import (
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// doctorPolicySource is what doctor says of [policy_source]: the policy in
// force, and the last refusal kept beside it.
func doctorPolicySource(cfg *setup.Config) *doctor.PolicySource {
	src := cfg.Source
	if src == nil {
		return nil
	}
	p := &doctor.PolicySource{Reference: src.Reference, MaxStaleness: src.MaxStaleness, DenyStale: src.DenyStale}
	if src.KeptError != nil {
		p.KeptError = src.KeptError.Error()
	}
	if k := src.Kept; k != nil {
		p.Serial, p.Digest, p.Verified, p.Expires = k.Serial, k.Digest, k.Verified, k.Expires
	}
	// Refusals are kept even before any policy was taken.
	if k, err := policysource.ReadKept(cfg.Daemon.StateDir); err == nil && k != nil && k.LastRefusal != nil {
		r := k.LastRefusal
		p.Refusals, p.RefusedAt, p.RefusedDigest, p.RefusedReason, p.RefusedError = k.Refusals, r.At, r.Digest, r.Reason, r.Error
	}
	return p
}
