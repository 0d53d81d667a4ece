package daemon

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signgate/signgate/internal/testkit/kmstest"
)

// The operator retires a leaked version 1 and rotates to a version 2
// signgate cannot take: the sync applies the revocation, trusts neither,
// and says so in the log, `signgate keys` and the metrics.
func TestUnusableVersionIsReportedAndTheRevocationApplies(t *testing.T) {
	v := kmstest.NewVaultKey(t, "release")
	d, log, _ := kmsDaemon(t, t.TempDir(), fmt.Sprintf("[kms.vault]\naddress = %q\n", v.URL))
	if got := states(d); got != "1 current" {
		t.Fatalf("at start: %s", got)
	}

	v.Rotate(t, "release")
	v.SetMinDecryptionVersion("release", 2)
	v.SetPublicKey("release", 2, "not a public key")
	if _, err := d.SyncKeys(t.Context()); err != nil {
		t.Fatalf("the KMS answered, yet the sync failed: %v", err)
	}
	if n := len(d.Engine().Snapshot().Keys.Versions("release")); n != 0 {
		t.Fatalf("the engine trusts %d versions", n)
	}
	if got := states(d); got != "2 untrusted:,  untrusted:" {
		t.Fatalf("keys: %s (%+v)", got, d.Keys())
	}
	if k := d.Keys()[0]; !strings.Contains(k.State, "unusable: public key is not PEM") {
		t.Fatalf("keys: %+v", d.Keys())
	}
	for _, want := range []string{"change=unusable key=release version=2", "change=revoked key=release version=1"} {
		if !strings.Contains(log.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
	if n := testutil.ToFloat64(d.metrics.kmsUnusable.WithLabelValues("release")); n != 1 {
		t.Fatalf("signgate_kms_key_unusable_versions = %v", n)
	}
}
