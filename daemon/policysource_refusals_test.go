package daemon

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/policysource"
)

// sourcedDaemon starts a daemon whose [policy_source] line is source,
// signed by signer's key; it returns the daemon and its state directory.
func sourcedDaemon(t *testing.T, source, signerPEM string) (*Daemon, string) {
	t.Helper()
	cfg, state := sourcedConfig(t, source, signerPEM)
	d := mustNew(t, cfg)
	return d, state
}

// Refusals are kept for doctor after a newer policy is taken, and before
// the first one too: an unsigned policy refused and then a signed one
// taken still shows the refusal. They used to be reset by the newer
// policy, so doctor said none was ever refused.
func TestRefusalsOutliveANewerPolicy(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	ref := host.host + "/signgate/policy:prod"
	d, state := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), signer.PublicPEM())
	publishPolicy(t, ref, 1, "unsigned")
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "unsigned" {
		t.Fatalf("an unsigned policy: %v", err)
	}
	for serial := 2; serial <= 3; serial++ {
		if err := signer.SignLegacy(publishPolicy(t, ref, serial, fmt.Sprintf("signed-%d", serial))); err != nil {
			t.Fatal(err)
		}
		mustRefresh(t, d)
		k, err := policysource.ReadKept(state)
		if err != nil || k == nil {
			t.Fatal(k, err)
		}
		if k.Serial != int64(serial) || k.Refusals != 1 || k.LastRefusal == nil || k.LastRefusal.Reason != "unsigned" {
			t.Errorf("after serial %d was taken, doctor sees serial %d, %d refusals, last %+v; want the unsigned one", serial, k.Serial, k.Refusals, k.LastRefusal)
		}
	}
}

// A layout holding two policy artifacts is refused as malformed (counted,
// kept for doctor), not taken for an unreachable source.
func TestLayoutWithTwoPoliciesIsMalformed(t *testing.T) {
	signer := mustSigner(t)
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		img, _, err := policysource.Build(fmt.Appendf(nil, "serial = %d\n", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img); err != nil {
			t.Fatal(err)
		}
	}
	d, state := sourcedDaemon(t, fmt.Sprintf("path = %q", dir), signer.PublicPEM())
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "malformed" {
		t.Fatalf("a layout with two policies: %v (reason %q), want refused as malformed", err, policysource.Reason(err))
	}
	if testutil.ToFloat64(d.ps.metrics.refused.WithLabelValues("malformed")) != 1 {
		t.Error("the refusal is not counted")
	}
	if k, err := policysource.ReadKept(state); err != nil || k == nil || k.LastRefusal == nil || k.LastRefusal.Reason != "malformed" {
		t.Errorf("the refusal is not kept for doctor: %+v %v", k, err)
	}
}
