package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
