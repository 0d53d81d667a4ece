package verify_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// renewEnv: a logged registry with the referrers API, key k1, an engine
// on a fake clock with allow_ttl 10m.
type renewEnv struct {
	*env
	log   *requestLog
	clock *testClock
}

func newRenewEnv(t *testing.T) *renewEnv {
	e := newEnv(t, true, 2)
	return &renewEnv{env: e, log: logged(t, e, true), clock: newTestClock()}
}

func (r *renewEnv) engineFor(ps verify.Policies) *verify.Engine {
	return r.engine(ps, registry.Config{}, verify.Options{AllowTTL: 10 * time.Minute, Now: r.clock.Now})
}

// scannedApp pushes image app with a vuln scan finished at finished,
// attested by k1.
func (r *renewEnv) scannedApp(finished time.Time) name.Digest {
	img := r.image("app")
	r.attest(img, "k1", "vuln", vulnScan(finished), true)
	return img
}

// attestationOnly is a policy requiring req of k1 and no signature.
func attestationOnly(t *testing.T, req *verify.AttestationRequirement) verify.Policies {
	t.Helper()
	ps := policy(t, verify.Enforce, "any", false, "k1")
	ps[0].Cosign, ps[0].Attestations = nil, []*verify.AttestationRequirement{req}
	return ps
}

// signed pushes an image and signs it with k1 in format.
func (r *renewEnv) signed(repo, format string) name.Digest {
	d := r.image(repo)
	if format == verify.FormatLegacy {
		must(r.t, r.signers["k1"].SignLegacy(d))
	} else {
		must(r.t, r.signers["k1"].SignBundle(d))
	}
	return d
}

// An allowed verdict that expires is renewed by asking the registry
// again only for the listing, tags and bundles it read (a GET of the
// referrers listing, a HEAD of the .sig tag or of the bundle's manifest),
// not by reading and checking every signature again; within a process and
// across a restart alike.
func TestExpiredVerdictIsRenewedCheaply(t *testing.T) {
	t.Parallel()
	const listing, sigHead, bundleHead = "GET /v2/R/referrers/D", "HEAD /v2/R/manifests/sha256-D.sig", "HEAD /v2/R/manifests/D"
	for _, c := range []struct {
		format string
		want   []string
	}{
		{verify.FormatLegacy, []string{listing, sigHead}},
		{verify.FormatBundle, []string{listing, bundleHead}},
	} {
		t.Run(c.format, func(t *testing.T) {
			r := newRenewEnv(t)
			eng := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
			img := r.signed("app", c.format)
			want(t, decide(t, eng, img), true, "verified by k1")
			r.clock.Advance(11 * time.Minute)
			r.log.take()
			v := decide(t, eng, img)
			want(t, v, true, "verified by k1")
			if !v.Renewed || v.Cached {
				t.Errorf("renewed=%v cached=%v, want a renewed verdict", v.Renewed, v.Cached)
			}
			if got := r.log.take(); !slices.Equal(got, slices.Sorted(slices.Values(c.want))) {
				t.Errorf("renewal asked %v, want %v", got, c.want)
			}
			if n, m := eng.Verifications.Load(), eng.Renewals.Load(); n != 1 || m != 1 {
				t.Fatalf("%d verifications and %d renewals, want 1 and 1", n, m)
			}
			// Renewed for another allow_ttl.
			r.clock.Advance(9 * time.Minute)
			if v := decide(t, eng, img); !v.Cached {
				t.Fatalf("the renewed verdict was not kept: %+v", v)
			}

			// Across a restart, an hour later: taken back expired, renewed
			// at the first decision.
			kept, _ := eng.Kept()
			r.clock.Advance(time.Hour)
			second := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
			if n, errs := second.Restore(roundTrip(t, kept)); n != 1 {
				t.Fatalf("restored %d: %v", n, errs)
			}
			r.log.take()
			want(t, decide(t, second, img), true, "verified by k1")
			if n, m := second.Verifications.Load(), second.Renewals.Load(); n != 0 || m != 1 {
				t.Fatalf("after a restart: %d verifications and %d renewals, want 0 and 1", n, m)
			}
			if got := r.log.take(); len(got) > len(c.want)+1 { // and the new engine's one ping
				t.Errorf("renewal after a restart asked %v", got)
			}
		})
	}
}

// A signature removed from the registry (by its owner, to revoke it)
// is seen at the renewal: the image is verified in full, and denied.
func TestRenewalSeesARemovedSignature(t *testing.T) {
	t.Parallel()
	for _, format := range []string{verify.FormatLegacy, verify.FormatBundle} {
		t.Run(format, func(t *testing.T) {
			r := newRenewEnv(t)
			eng := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
			img := r.signed("app", format)
			want(t, decide(t, eng, img), true, "verified by k1")
			if format == verify.FormatLegacy {
				tag, err := ociremote.SignatureTag(img)
				must(t, err)
				must(t, remote.Delete(tag))
			} else {
				idx, err := ociremote.Referrers(img, "")
				must(t, err)
				for _, d := range idx.Manifests {
					must(t, remote.Delete(img.Context().Digest(d.Digest.String())))
				}
			}
			r.clock.Advance(11 * time.Minute)
			v := decide(t, eng, img)
			want(t, v, false, "no cosign signatures found")
			if eng.Renewals.Load() != 0 {
				t.Fatal("a verdict was renewed over a removed signature")
			}
		})
	}
}

// A signature added beside the one verified changes the listing: the
// image is verified again in full (every_signature may now deny).
func TestRenewalSeesAnAddedSignature(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	eng := r.engineFor(policy(t, verify.Enforce, "any", true, "k1"))
	img := r.signed("app", verify.FormatBundle)
	want(t, decide(t, eng, img), true, "verified by k1")
	must(t, r.signers["k2"].SignBundle(img)) // a key the policy does not trust
	r.clock.Advance(11 * time.Minute)
	want(t, decide(t, eng, img), false, "every signature must verify")
}

// An attestation's max_age is not renewed past: once it ends, the image
// is verified in full (and denied, the scan being too old).
func TestRenewalStopsAtAnAttestationsMaxAge(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	scan := attestation(t, "scan", "vuln", []string{"k1"}, verify.MaxAgeCondition(30*time.Minute))
	scan.MaxAge = 30 * time.Minute
	ps := attestationOnly(t, scan)
	eng := r.engineFor(ps)
	finished := r.clock.Now().Add(-10 * time.Minute).Truncate(time.Second)
	img := r.scannedApp(finished)
	want(t, decide(t, eng, img), true, "scan: verified by k1")
	r.clock.Set(finished.Add(25 * time.Minute)) // expired (allow_ttl), the scan still young enough
	want(t, decide(t, eng, img), true, "scan: verified by k1")
	if eng.Renewals.Load() != 1 {
		t.Fatalf("%d renewals, want 1", eng.Renewals.Load())
	}
	r.clock.Set(finished.Add(30*time.Minute + time.Second))
	want(t, decide(t, eng, img), false, "max_age = 30m0s")
	if eng.Renewals.Load() != 1 {
		t.Fatal("a verdict was renewed past its attestation's max_age")
	}
}

// A key revoked (here: rotated away) while the verdict was expired, in
// the process or while signgate was down, leaves nothing to renew.
func TestRenewalNeedsTheSameKeys(t *testing.T) {
	t.Parallel()
	e := newKeptEnv(t)
	clock := newTestClock()
	first := e.engine(e.snap("k1"), clock.Now)
	want(t, decide(t, first, e.imgA), true, "verified by")
	kept, _ := first.Kept()
	clock.Advance(2 * time.Hour) // past allow_ttl (1h)

	rotated := e.engine(e.snap("k3"), clock.Now)
	if n, _ := rotated.Restore(roundTrip(t, kept)); n != 0 {
		t.Fatal("an expired verdict was taken back over a revoked key")
	}
	first.Swap(e.snap("k3"))
	for _, eng := range []*verify.Engine{first, rotated} {
		if v := decide(t, eng, e.imgA); v.Allowed || eng.Renewals.Load() != 0 {
			t.Fatalf("renewed over a revoked key: %+v", v)
		}
	}
}

// Renewals do not go on forever: MaxRenewedAge after its last full
// verification, a verdict is verified in full again.
func TestRenewalEndsAfterMaxRenewedAge(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	eng := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
	img := r.signed("app", verify.FormatBundle)
	want(t, decide(t, eng, img), true, "verified by k1")
	for i := 0; i < 3; i++ {
		r.clock.Advance(11 * time.Minute)
		want(t, decide(t, eng, img), true, "verified by k1")
	}
	r.clock.Advance(verify.MaxRenewedAge)
	want(t, decide(t, eng, img), true, "verified by k1")
	if n, m := eng.Verifications.Load(), eng.Renewals.Load(); n != 2 || m != 3 {
		t.Fatalf("%d verifications and %d renewals, want 2 and 3", n, m)
	}
}

// A notation verdict is never renewed: its certificates' revocation (and
// expiry) is judged now. A certificate revoked after the verdict denies
// once the verdict expires, though the signature is unchanged.
func TestNotationVerdictIsNotRenewed(t *testing.T) {
	t.Parallel()
	n := newNotaryEnv(t)
	pki, revoked := crlPKI(t)
	c, err := keystore.ParseCertsPEM("crl", "inline", keystore.CertCA, []byte(pki.RootPEM()), time.Now())
	must(t, err)
	n.store, err = n.store.WithCerts(c)
	must(t, err)
	n.pki["crl"] = pki
	img := n.image("app")
	n.sign(img, "crl", sigtest.JWS)
	// Beside a cosign signature, which alone would be renewable.
	must(t, n.signers["k1"].SignLegacy(img))

	clock := newTestClock()
	sc, _ := verify.ParseScope("**")
	p := verify.Policy{Name: "test", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", nil, "crl"),
		Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1}}
	eng := verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{p}, Keys: n.store}, n.reg, verify.Options{AllowTTL: 10 * time.Minute, Now: clock.Now})
	want(t, decide(t, eng, img), true, "verified by crl")
	revoked.Store(true)
	// Past allow_ttl and past the cached CRL's NextUpdate (an hour).
	clock.Advance(2 * time.Hour)
	v := decide(t, eng, img)
	want(t, v, false, "verified by none")
	if !strings.Contains(v.Notation.Rejections["crl"], "revoked") || eng.Renewals.Load() != 0 {
		t.Fatalf("not denied as revoked (renewals %d): %q", eng.Renewals.Load(), v.Notation.Rejections["crl"])
	}
}

// A condition that reads `now` (a freshness check written by hand) may
// stop holding with time alone: a verdict resting on it is never renewed
// but verified in full once it expires, and denied once the condition
// fails, as a fresh verification would.
func TestRenewalReevaluatesConditionsOnNow(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	scan := attestation(t, "scan", "vuln", []string{"k1"},
		cel(t, `timestamp(predicate.metadata.scanFinishedOn) > now - duration("30m")`))
	ps := attestationOnly(t, scan)
	eng := r.engineFor(ps)
	finished := r.clock.Now().Add(-5 * time.Minute).Truncate(time.Second)
	img := r.scannedApp(finished)
	want(t, decide(t, eng, img), true, "scan: verified by k1")

	// Control: a fresh engine at +45m denies (the condition no longer holds).
	r.clock.Set(finished.Add(45 * time.Minute))
	if v := decide(t, r.engineFor(ps), img); v.Allowed {
		t.Fatalf("control: a full verification at +45m allowed: %s", v.Reason)
	}
	if v := decide(t, eng, img); v.Allowed || eng.Renewals.Load() != 0 {
		t.Errorf("renewed past a `now` condition: renewed=%v renewals=%d: %s", v.Renewed, eng.Renewals.Load(), v.Reason)
	}
	r.clock.Set(finished.Add(20 * time.Hour))
	if v := decide(t, eng, img); v.Allowed {
		t.Errorf("still allowed 20h after the scan (condition: 30m): renewed=%v", v.Renewed)
	}
}

// A condition that does not read `now` leaves the verdict renewable.
func TestRenewalKeepsConditionsWithoutNow(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	scan := attestation(t, "scan", "vuln", []string{"k1"}, cel(t, `has(predicate.metadata.scanFinishedOn)`))
	ps := attestationOnly(t, scan)
	eng := r.engineFor(ps)
	img := r.scannedApp(r.clock.Now())
	want(t, decide(t, eng, img), true, "scan: verified by k1")
	r.clock.Advance(11 * time.Minute)
	if v := decide(t, eng, img); !v.Renewed || !v.Allowed {
		t.Errorf("not renewed: %+v", v.Reason)
	}
}

// A bundle deleted while the listing still names it (the sha256-<hex>
// fallback index of a registry without the referrers API, or a listing
// that lags) is seen at the renewal: each bundle the verification read
// is asked for again (a HEAD), and the image is verified in full, and
// denied, as a fresh verification would.
func TestRenewalSeesADeletedBundleStillListed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false, 2)
	clock := newTestClock()
	opts := verify.Options{AllowTTL: 10 * time.Minute, Now: clock.Now}
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, opts)
	img := e.image("app")
	must(t, e.signers["k1"].SignBundle(img))
	want(t, decide(t, eng, img), true, "verified by k1")
	idx, err := ociremote.Referrers(img, "")
	must(t, err)
	if len(idx.Manifests) == 0 {
		t.Fatal("no referrer listed")
	}
	for _, d := range idx.Manifests {
		must(t, remote.Delete(img.Context().Digest(d.Digest.String())))
	}
	clock.Advance(11 * time.Minute)
	fresh := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, opts)
	if v := decide(t, fresh, img); v.Allowed {
		t.Fatalf("control: a full verification allowed: %s", v.Reason)
	}
	if v := decide(t, eng, img); v.Allowed || eng.Renewals.Load() != 0 {
		t.Errorf("renewed over a deleted signature (renewed=%v): %s", v.Renewed, v.Reason)
	}
}

// A renewal just before MaxRenewedAge does not keep the verdict a whole
// allow_ttl more: it ends a day after the last full verification.
func TestRenewedVerdictEndsAtMaxRenewedAge(t *testing.T) {
	t.Parallel()
	r := newRenewEnv(t)
	eng := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
	img := r.signed("app", verify.FormatBundle)
	want(t, decide(t, eng, img), true, "verified by k1")
	r.clock.Advance(verify.MaxRenewedAge - time.Minute)
	want(t, decide(t, eng, img), true, "verified by k1") // renewed, to MaxRenewedAge
	r.clock.Advance(5 * time.Minute)
	v := decide(t, eng, img)
	want(t, v, true, "verified by k1")
	if n := eng.Verifications.Load(); n != 2 || v.Cached {
		t.Errorf("4m after MaxRenewedAge: %d verifications (cached=%v renewed=%v), want a second in full", n, v.Cached, v.Renewed)
	}
}

// A renewal is a verification in flight while it asks the registry
// (signgate_verifications_in_flight), and counted once, not twice, when
// it falls back to a verification in full.
func TestRenewalIsCountedInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 2)
	var hold atomic.Bool
	asked, release := make(chan struct{}, 4), make(chan struct{})
	next := e.srv.Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hold.Load() && strings.Contains(r.URL.Path, "/referrers/") {
			asked <- struct{}{}
			<-release
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.host = strings.TrimPrefix(srv.URL, "http://")
	clock := newTestClock()
	eng := e.engine(policy(t, verify.Enforce, "any", false, "k1"), registry.Config{}, verify.Options{AllowTTL: 10 * time.Minute, Now: clock.Now})
	img := e.image("app")
	must(t, e.signers["k1"].SignBundle(img))
	want(t, decide(t, eng, img), true, "verified by k1")

	for _, c := range []struct {
		name    string
		renewed bool
		change  func()
	}{
		{"renewed", true, func() {}},
		{"verified in full", false, func() { must(t, e.signers["k2"].SignBundle(img)) }},
	} {
		c.change()
		clock.Advance(11 * time.Minute)
		hold.Store(true)
		done := make(chan *verify.Verdict)
		go func() { done <- decide(t, eng, img) }()
		<-asked // the renewal's listing
		if n := eng.InFlight(); n != 1 {
			t.Errorf("%s: %d in flight while renewing, want 1", c.name, n)
		}
		if !c.renewed {
			release <- struct{}{}
			<-asked // the verification in full's listing
			if n := eng.InFlight(); n != 1 {
				t.Errorf("%s: %d in flight while verifying in full after a renewal, want 1", c.name, n)
			}
		}
		hold.Store(false)
		release <- struct{}{}
		v := <-done
		if v.Renewed != c.renewed || !v.Allowed {
			t.Fatalf("%s: renewed=%v allowed=%v: %s", c.name, v.Renewed, v.Allowed, v.Reason)
		}
	}
}
