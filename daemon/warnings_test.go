package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
)

// A config that enforces nothing is logged as a warning at start and on
// reload, and signgate_enforcing_policies says 0 (issue 11, item 9).
func TestAuditOnlyConfigIsWarnedOf(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	write := func(mode string) {
		body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[[policy]]\nname = \"everything\"\nscopes = [\"**\"]\nmode = %q\n",
			filepath.Join(dir, "none.sock"), filepath.Join(dir, "state"), mode)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("allow")
	log := &syncedBuffer{}
	d, err := New(cfg, slog.New(slog.NewTextHandler(log, nil)), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), `level=WARN msg="config warning"`); n != 1 || !strings.Contains(log.String(), "no policy enforces") {
		t.Fatalf("start logged %d warnings:\n%s", n, log)
	}
	if got := d.config().EnforcingPolicies(); got != 0 {
		t.Fatalf("enforcing policies: %d", got)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), `msg="config warning"`); n != 2 {
		t.Fatalf("reload did not warn again:\n%s", log)
	}
}

// Two KMS key names that resolve to one key are warned of once, and again
// only when that changes (issue 11: one signature must not count twice;
// the engine counts such keys once, and the operator hears why).
func TestSharedKeyMaterialIsWarnedOf(t *testing.T) {
	v := kmstest.NewVaultKey(t, "release")
	// "build" names the same Vault key as the helper's "release".
	d, log, _ := kmsDaemon(t, t.TempDir(), fmt.Sprintf("[kms.vault]\naddress = %q\n[keys.build]\nkms = \"hashivault://release\"\n", v.URL))
	const warning = "keys build, release hold the same key material"
	if n := strings.Count(log.String(), warning); n != 1 {
		t.Fatalf("warned %d times at start:\n%s", n, log)
	}
	if _, err := d.SyncKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(log.String(), warning); n != 1 {
		t.Fatalf("a quiet sync warned again (%d):\n%s", n, log)
	}
}
