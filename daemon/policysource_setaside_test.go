package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
)

// A kept policy verified by these same signers but set aside at start
// (here: signed without expires, kept by a signgate that took such
// policies) is not in force, but its serial still bounds the source: a
// registry must not replay an older policy the signers once signed, with
// an expiry, because an upgrade set the newer one aside.
func TestSetAsidePolicysSerialStillBounds(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	ref := host.host + "/signgate/policy:prod"
	d, state := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), signer.PublicPEM())
	old := &policysource.Kept{Reference: ref, Digest: "sha256:five", Serial: 5, Verified: time.Now(), Signers: d.config().Source.Signers,
		Body: "serial = 5\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"}
	if err := policysource.WriteKept(state, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	d = mustNew(t, d.config().Path)
	if d.config().Source.Kept != nil {
		t.Fatal("a kept policy without expires is in force")
	}
	publishBody(t, ref, "serial = 3\nexpires = "+policytest.Soon+"\n", signer)
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "rollback" || !strings.Contains(err.Error(), "sha256:five") || !strings.Contains(err.Error(), policysource.Path(state)) {
		t.Fatalf("serial 3 under the set-aside serial 5: %v", err)
	}
	if k, err := policysource.ReadKept(state); err != nil || k == nil || k.Serial != 5 {
		t.Errorf("the kept policy is %+v %v, want serial 5", k, err)
	}
	publishBody(t, ref, "serial = 6\nexpires = "+policytest.Soon+"\n", signer)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 6 {
		t.Errorf("a newer policy: %+v", k)
	}
}
