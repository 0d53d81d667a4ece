package doctor

import (
	"strings"
	"testing"
	"time"
)

// doctor says which policy serial is in force, when it went stale, and the
// last policy refused, naming its artifact and why.
func TestDoctorShowsThePolicySource(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p := PolicySource{Reference: "r.example/policy:prod", Serial: 5, Digest: "sha256:five", Verified: now.Add(-time.Minute), MaxStaleness: time.Hour}
	fs := policySourceFindings(p, now)
	if !fs[0].Holds || !strings.Contains(fs[0].Detail, "serial 5") || !fs[1].Holds {
		t.Errorf("current, nothing refused: %+v", fs)
	}
	p.Verified, p.DenyStale = now.Add(-2*time.Hour), true
	p.Refusals, p.RefusedAt, p.RefusedDigest, p.RefusedReason, p.RefusedError = 2, now, "sha256:one", "rollback", "serial 1 is not above 5"
	fs = policySourceFindings(p, now)
	if fs[0].Holds || !strings.Contains(fs[0].Detail, "every image is denied") {
		t.Errorf("stale under deny: %+v", fs[0])
	}
	if fs[1].Holds || !strings.Contains(fs[1].Detail, "sha256:one (rollback)") || !strings.Contains(fs[1].Detail, "2 refused") {
		t.Errorf("refused: %+v", fs[1])
	}
	if fs := policySourceFindings(PolicySource{Reference: "r"}, now); fs[0].Holds || !strings.Contains(fs[0].Detail, "every image is denied") {
		t.Errorf("none verified: %+v", fs[0])
	}
}

// A policy past its signed expires is reported as expired even while the
// source keeps confirming it (a frozen registry).
func TestDoctorShowsAnExpiredPolicy(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	p := PolicySource{Reference: "r.example/policy:prod", Serial: 5, Digest: "sha256:five", Verified: now, MaxStaleness: time.Hour, Expires: now.Add(-time.Minute)}
	if fs := policySourceFindings(p, now); fs[0].Holds || !strings.Contains(fs[0].Detail, "expired") {
		t.Errorf("expired: %+v", fs[0])
	}
	p.Expires = now.Add(time.Minute)
	if fs := policySourceFindings(p, now); !fs[0].Holds {
		t.Errorf("not yet expired: %+v", fs[0])
	}
}
