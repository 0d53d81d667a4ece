package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/verify"
)

// A registry that keeps serving the old signed policy (frozen) confirms it
// at every refresh, so max_staleness alone never trips. The artifact's
// signed expires does: past it, by the engine's clock, the policy is
// stale, and with on_stale = "deny" every image is denied.
func TestFrozenPolicyExpires(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	img := mustPush(t, host.host+"/team/app:v1")
	ref := host.host + "/signgate/policy:prod"
	d, _ := sourcedDaemon(t, fmt.Sprintf("reference = %q\nrefresh = \"1m\"\nmax_staleness = \"10m\"\non_stale = \"deny\"", ref), signer.PublicPEM())
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	d.ps.now = func() time.Time { return now }
	body := fmt.Sprintf("serial = 1\nexpires = %s\n[[policy]]\nname = \"frozen\"\nscopes = [\"**\"]\nmode = \"allow\"\n", now.Add(time.Hour).Format(time.RFC3339))
	publishBody(t, ref, body, signer)
	decide := func() *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Platform: img.DigestStr()})
	}
	mustRefresh(t, d)
	if v := decide(); !v.Allowed {
		t.Fatalf("before it expires: %+v", v)
	}
	now = now.Add(2 * time.Hour)
	if err := d.RefreshPolicy(t.Context()); err != nil { // the frozen registry confirms it
		t.Fatal(err)
	}
	if testutil.ToFloat64(d.ps.metrics.stale) != 1 {
		t.Error("signgate_policy_stale is not 1 past the signed expires")
	}
	if v := decide(); v.Allowed || !strings.Contains(v.Reason, "expired") {
		t.Errorf("past its signed expires, a frozen policy still decides: %+v", v)
	}
}
