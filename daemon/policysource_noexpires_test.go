package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/verify"
)

// A policy signed without expires could be served forever by whoever
// controls the registry (a freeze): it is refused, naming the reference
// and the key that would allow it, and every image stays denied; the
// node's opt-out, allow_no_expires_unsafe, takes it.
func TestPolicyWithoutExpiresIsRefused(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	img := mustPush(t, host.host+"/team/app:v1")
	ref := host.host + "/signgate/policy:prod"
	publishBody(t, ref, "serial = 1\n[[policy]]\nname = \"forever\"\nscopes = [\"**\"]\nmode = \"allow\"\n", signer)
	decide := func(d *Daemon) *verify.Verdict {
		return d.Decide(t.Context(), verify.Request{Image: img, Platform: img.DigestStr()})
	}

	d, state := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), signer.PublicPEM())
	err := d.RefreshPolicy(t.Context())
	if policysource.Reason(err) != policysource.NoExpiresReason || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "policy_source.allow_no_expires_unsafe") {
		t.Fatalf("a policy without expires: %v", err)
	}
	if v := decide(d); v.Allowed {
		t.Errorf("a policy without expires decides: %+v", v)
	}
	if got := testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues(policysource.NoExpiresReason)); got != 1 {
		t.Errorf("signgate_policy_refused_total{reason=%q} = %v", policysource.NoExpiresReason, got)
	}
	if k, err := policysource.ReadKept(state); err != nil || k == nil || k.Digest != "" || k.LastRefusal == nil || k.LastRefusal.Reason != policysource.NoExpiresReason {
		t.Errorf("doctor does not see the refusal: %+v %v", k, err)
	}

	d, _ = sourcedDaemon(t, fmt.Sprintf("reference = %q\nallow_no_expires_unsafe = true", ref), signer.PublicPEM())
	if err := d.RefreshPolicy(t.Context()); err != nil {
		t.Fatalf("with allow_no_expires_unsafe: %v", err)
	}
	if v := decide(d); !v.Allowed {
		t.Errorf("with allow_no_expires_unsafe: %+v", v)
	}
}

// An expired policy is handled as on_stale says: under "warn" it stays
// in force, said loudly (signgate_policy_stale); under "deny" (see
// TestFrozenPolicyExpires) every image is denied.
func TestExpiredPolicyUnderOnStaleWarn(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	img := mustPush(t, host.host+"/team/app:v1")
	ref := host.host + "/signgate/policy:prod"
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	publishBody(t, ref, fmt.Sprintf("serial = 1\nexpires = %s\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n", now.Add(-time.Hour).Format(time.RFC3339)), signer)
	d, _ := sourcedDaemon(t, fmt.Sprintf("reference = %q\non_stale = \"warn\"", ref), signer.PublicPEM())
	d.ps.now = func() time.Time { return now }
	mustRefresh(t, d)
	if testutil.ToFloat64(d.ps.metrics.stale) != 1 {
		t.Error("signgate_policy_stale is not 1 for an expired policy")
	}
	if v := d.Decide(t.Context(), verify.Request{Image: img, Platform: img.DigestStr()}); !v.Allowed {
		t.Errorf("on_stale = \"warn\": the expired policy is not in force: %+v", v)
	}
}
