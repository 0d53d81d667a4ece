package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A reload that leaves no policy in force (none kept, or the kept one set
// aside: other signers, a lost state file) asks the refresh loop for a
// refresh at once: every image is denied until one is verified, so it must
// not wait for policy_source.refresh.
func TestReloadWithNoPolicyRefreshesAtOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	signer := mustSigner(t)
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\n[keys.security]\npem = '''\n%s'''\n"+
		"[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\nrefresh = \"1h\"\n[policy_source.cosign]\nkeys = [\"security\"]\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), signer.PublicPEM())), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.ps.poke:
	default:
		t.Fatal("a reload left no policy in force and no refresh was asked for: the node denies every image until policy_source.refresh (1h)")
	}
}
