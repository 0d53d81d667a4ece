package setup_test

import (
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// signed_manifest reaches the policy; a value it does not know is refused
// naming the file, the policy and the key.
func TestSignedManifestKey(t *testing.T) {
	policy := func(on string) string {
		return "[keys.a]\npem = \"\"\"" + pub(t) + "\"\"\"\n[[policy]]\nname = \"p\"\nscopes = [\"reg.io/**\"]\n" + on + "[policy.cosign]\nkeys = [\"a\"]\n"
	}
	for on, want := range map[string]verify.SignedManifest{"": "", `signed_manifest = "platform"` + "\n": verify.SignedPlatform, `signed_manifest = "index"` + "\n": verify.SignedIndex} {
		c, err := setup.Parse("config.toml", []byte(policy(on)))
		if err != nil {
			t.Fatalf("%q: %v", on, err)
		}
		if got := c.Policies[0].SignedManifest; got != want {
			t.Errorf("%q: SignedManifest %q, want %q", on, got, want)
		}
	}
	_, err := setup.Parse("config.toml", []byte(policy(`signed_manifest = "manifest"`+"\n")))
	if err == nil || !strings.Contains(err.Error(), "config.toml") || !strings.Contains(err.Error(), `policy[0] "p".signed_manifest = "manifest"`) {
		t.Fatalf("an unknown signed_manifest: %v", err)
	}
}
