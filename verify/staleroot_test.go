package verify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/verify"
)

// A trust root kept from a TUF repository that has not vouched for it
// within its staleness limit stops counting at decision time, though no
// refresh or reload comes (the mirror is down, or frozen by an attacker):
// keyless signatures under it are denied, naming the trust root and how
// stale it is, and a verdict made while it was fresh is not reused. A
// later update that vouches for the same trust root again restores it.
func TestKeylessUnderAStaleTrustRootIsDenied(t *testing.T) {
	t.Parallel()
	k := newKeyless(t)
	verified := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	k.root.Verified, k.root.NotAfter, k.root.Limit = verified, verified.Add(24*time.Hour), "the expiry of the TUF metadata that last vouched for it"
	c := &testClock{now: verified.Add(time.Hour)}
	clock := c.Now
	// Allow verdicts outlive the trust root, by the same clock: only its
	// staleness can end the cached allow below.
	eng := k.engineWith(t, verify.Options{Now: clock, AllowTTL: 48 * time.Hour}, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
	img := k.image("signed")
	if err := k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, decide(t, eng, img), true, "verified by release")
	runs := eng.Verifications.Load()

	// A second before the limit: still trusted, from the cache.
	c.Set(verified.Add(24*time.Hour - time.Second))
	if v := decide(t, eng, img); !v.Allowed || !v.Cached {
		t.Fatalf("before the limit: %+v", v)
	}
	// Past it: denied at once, no cached allow reused.
	c.Set(verified.Add(27 * time.Hour))
	v := decide(t, eng, img)
	want(t, v, false, `trust root "local" is stale`)
	for _, s := range []string{"27h0m0s ago", "3h0m0s ago", "TUF metadata", "[release]"} {
		if !strings.Contains(v.Reason, s) {
			t.Fatalf("the denial does not say %q: %s", s, v.Reason)
		}
	}
	t.Log(v.Reason)
	if v.Cached || eng.Verifications.Load() != runs+1 {
		t.Fatalf("the allow made while the trust root was fresh was reused: %+v", v)
	}

	// An update vouches for the same trust root again.
	renewed := *k.root
	renewed.Verified, renewed.NotAfter = clock(), clock().Add(24*time.Hour)
	eng.Swap(eng.Snapshot().WithRoots([]*verify.TrustRoot{&renewed}, clock()))
	want(t, decide(t, eng, img), true, "verified by release")

	// Another trust root's content is not taken as a renewal.
	other := renewed
	other.Digest, other.NotAfter = "sha256:other", clock().Add(1000*time.Hour)
	c.Advance(25 * time.Hour)
	eng.Swap(eng.Snapshot().WithRoots([]*verify.TrustRoot{&other}, clock()))
	want(t, decide(t, eng, img), false, `trust root "local" is stale`)
}
