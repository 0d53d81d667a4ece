package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/policysource"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// A policy kept by a signgate that recorded no signers is set aside on
// upgrade, but not lost: a refusal meanwhile leaves it on disk, and its
// serial still bounds the source, so the upgrade opens no rollback to an
// older signed policy. A newer one is taken.
func TestUpgradeKeepsTheSetAsidePolicysSerial(t *testing.T) {
	host := srvHost(t)
	signer, stranger := mustSigner(t), mustSigner(t)
	ref := host.host + "/signgate/policy:prod"
	d, state := sourcedDaemon(t, fmt.Sprintf("reference = %q", ref), signer.PublicPEM())
	old := &policysource.Kept{Reference: ref, Digest: "sha256:five", Serial: 5, Verified: time.Now(),
		Body: "serial = 5\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"}
	if err := policysource.WriteKept(state, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	d = mustNew(t, d.config().Path)
	if d.config().Source.Kept != nil {
		t.Fatal("a policy kept without a signers record is in force")
	}
	onDisk := func(when string, serial int64) {
		t.Helper()
		if k, err := policysource.ReadKept(state); err != nil || k == nil || k.Serial != serial {
			t.Errorf("%s: the kept policy is %+v %v, want serial %d", when, k, err, serial)
		}
	}
	// Signed by another key: refused, and the set-aside policy stays on disk.
	publishBody(t, ref, "serial = 9\nexpires = "+policytest.Soon+"\n", stranger)
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "untrusted" {
		t.Fatalf("a policy signed by another key: %v", err)
	}
	onDisk("after a refusal", 5)
	// An older one signed by the signers: a rollback, though none is in force.
	publishBody(t, ref, "serial = 3\nexpires = "+policytest.Soon+"\n", signer)
	if err := d.RefreshPolicy(t.Context()); policysource.Reason(err) != "rollback" || !strings.Contains(err.Error(), "older signgate") {
		t.Fatalf("serial 3 under the set-aside serial 5: %v", err)
	}
	onDisk("after a replayed older one", 5)
	publishBody(t, ref, "serial = 6\nexpires = "+policytest.Soon+"\n", signer)
	mustRefresh(t, d)
	if k := d.ps.kept.Load(); k == nil || k.Serial != 6 || k.Signers == "" {
		t.Errorf("a newer policy after the upgrade: %+v", k)
	}
}
