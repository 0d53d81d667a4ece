package verify_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/verify"
)

// A verdict made with a pod's pull secret is renewed with it: renewed
// without (a context.Background()), the renewal read the private registry
// with the node's credentials, was refused, and the image was verified in
// full every allow_ttl.
func TestRenewalKeepsPodCredentials(t *testing.T) {
	r := newRenewEnv(t)
	img := r.signed("app", verify.FormatLegacy)
	var anon atomic.Int64
	host := basicAuthFront(t, "http://"+r.host, func(q *http.Request) {
		if q.URL.Path != "/v2/" {
			anon.Add(1)
		}
	})
	private, err := name.NewDigest(host + "/app@" + img.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	eng := r.engineFor(policy(t, verify.Enforce, "any", false, "k1"))
	mine := podSecret{host: host, user: "robot", pass: "pw", scope: "secret:team/regcred@1"}
	ask := func() *verify.Verdict {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return eng.Decide(ctx, verify.Request{Image: private, Credentials: mine})
	}
	if v := ask(); !v.Allowed {
		t.Fatalf("first: %s", v.Reason)
	}
	r.clock.Advance(11 * time.Minute)
	anon.Store(0)
	v := ask()
	if anon.Load() != 0 {
		t.Errorf("%d requests without the pod's credential", anon.Load())
	}
	t.Logf("after allow_ttl: allowed=%v renewed=%v verifications=%d renewals=%d unauthenticated requests=%d", v.Allowed, v.Renewed, eng.Verifications.Load(), eng.Renewals.Load(), anon.Load())
	if !v.Renewed || eng.Renewals.Load() != 1 {
		t.Errorf("the pod-secret verdict was not renewed (the renewal read without the pod's credential)")
	}
}
