package verify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/verify"
)

// Short-lived certificates (a managed service's, valid for days): a
// signature whose 3-day certificate expired last week verifies through the
// RFC 3161 timestamp a trusted TSA put on it while the certificate was
// valid, and is refused without one. Times come from the test's clock;
// notation-go judges certificates by the wall clock, which that clock
// starts at, so the certificate is issued in the past rather than waited
// out.
func TestNotationShortLivedCertificate(t *testing.T) {
	t.Parallel()
	n, clock, issued, pki, tsa := shortLivedNotary(t)
	if !pki.Leaf.NotAfter.Before(clock.Now().Add(-6 * 24 * time.Hour)) {
		t.Fatalf("the certificate expired on %v; want last week", pki.Leaf.NotAfter)
	}
	signedAt := issued.Add(time.Hour)
	stamped, bare := n.image("shortlived/stamped"), n.image("shortlived/bare")
	for _, s := range []struct {
		img name.Digest
		tsa *sigtest.TSA
	}{{stamped, tsa}, {bare, nil}} {
		repo, err := n.reg.Repository(s.img.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.SignNotationAt(context.Background(), repo, s.img, sigtest.JWS, signedAt, s.tsa); err != nil {
			t.Fatal(err)
		}
	}
	decide := func(req *verify.NotationRequirement, img name.Digest) *verify.Verdict {
		return decide(t, shortLivedEngine(n, clock, req), img)
	}
	always := notaryReq("strict", "any", nil, "service")
	always.TSA = []string{"tsa"}
	afterExpiry := notaryReq("strict", "any", nil, "service")
	afterExpiry.TSA, afterExpiry.AfterCertExpiry = []string{"tsa"}, true

	want(t, decide(always, stamped), true, "verified by service")
	want(t, decide(afterExpiry, stamped), true, "verified by service")
	for _, req := range []*verify.NotationRequirement{always, afterExpiry} {
		v := decide(req, bare)
		want(t, v, false, "verified by none")
		if why := v.Notation.Rejections["service"]; !strings.Contains(why, "no timestamp countersignature") {
			t.Errorf("rejection: %q", why)
		}
	}
	// Without a TSA root, the timestamp proves nothing: expired.
	v := decide(notaryReq("strict", "any", nil, "service"), stamped)
	want(t, v, false, "verified by none")
	if why := v.Notation.Rejections["service"]; !strings.Contains(why, "expired") {
		t.Errorf("rejection: %q", why)
	}
}
