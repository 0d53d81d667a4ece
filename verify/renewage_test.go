package verify

import (
	"testing"
	"time"
)

// A verdict claiming a last full verification in the future (a clock
// stepped back, a state file from another machine) is not renewed: its
// day of renewals would not have begun.
func TestRenewalRefusesAVerifiedAtInTheFuture(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	seen := map[string]string{seenTag + "r.example/app:sha256-x.sig": "sha256:00"}
	if !(&renewal{seen: seen, verifiedAt: now.Add(-time.Hour)}).canRenew(now) {
		t.Fatal("control: a verdict verified an hour ago is not renewable")
	}
	if (&renewal{seen: seen, verifiedAt: now.Add(time.Minute)}).canRenew(now) {
		t.Error("a verdict verified a minute in the future is renewable")
	}
}
