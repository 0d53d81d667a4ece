package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// A plain config's [delegations] are for the policy built from it: a node
// running the file itself delegates nothing, and says so.
func TestLocalDelegationsAreIgnoredLoudly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet-policy.toml")
	if err := os.WriteFile(path, []byte("[delegations.team-a]\nreference = \"registry.example/team-a/policy:prod\"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\n[policy.cosign]\nkeys = [\"k\"]\n[keys.k]\npem = \"\"\"\n"+pub(t)+"\"\"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(c.Warnings(), "\n"); !strings.Contains(w, "delegates nothing") {
		t.Errorf("warnings: %s", w)
	}
}
