package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/policysource"
)

// max_validity was measured from the node's clock only, so nodes whose
// clocks differ judged the same signed policy differently. A signature
// with a trusted time (here a key signature's transparency-log entry,
// checked against tlog_root) gives the policy's issue time instead: a
// node whose clock is 30 days behind takes a policy signed 80 days ahead,
// and one 60 days ahead refuses a policy signed 120 days ahead.
func TestPolicyValidityFromItsSigningTime(t *testing.T) {
	host := srvHost(t)
	signer := mustSigner(t)
	ss, err := sigtest.NewSigstore()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trusted := filepath.Join(dir, "trusted_root.json")
	if err := ss.WriteTrustedRoot(trusted, false); err != nil {
		t.Fatal(err)
	}
	ref := host.host + "/signgate/policy:prod"
	cfg := filepath.Join(dir, "config.toml")
	state := filepath.Join(dir, "state")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n[trust_roots.log]\npath = %q\n[policy_source]\nreference = %q\n[policy_source.cosign]\nkeys = [\"security\"]\ntlog = \"require\"\ntlog_root = \"log\"\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), state, signer.PublicPEM(), trusted, ref), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	signed := time.Now() // the log's integrated time
	publish := func(serial int, expires time.Time) {
		t.Helper()
		dg := pushPolicyArtifact(t, ref, fmt.Sprintf("serial = %d\nexpires = %s\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n", serial, expires.UTC().Format(time.RFC3339)))
		if err := ss.SignLegacyLogged(dg, signer); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour

	behind := signed.Add(-30 * day)
	d.ps.now = func() time.Time { return behind }
	publish(1, signed.Add(80*day))
	if err := d.RefreshPolicy(t.Context()); err != nil {
		t.Fatalf("80 days past its signing time, on a node 30 days behind: %v", err)
	}
	if k, err := policysource.ReadKept(state); err != nil || k == nil || k.Serial != 1 || k.Issued.Sub(signed).Abs() > time.Minute {
		t.Errorf("kept: %+v %v", k, err)
	}

	ahead := signed.Add(60 * day)
	d.ps.now = func() time.Time { return ahead }
	publish(2, signed.Add(120*day))
	err = d.RefreshPolicy(t.Context())
	if policysource.Reason(err) != policysource.ExpiresTooFarReason || !strings.Contains(err.Error(), "its signing time") {
		t.Fatalf("120 days past its signing time, on a node 60 days ahead: %v", err)
	}
}
