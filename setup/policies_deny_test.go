package setup_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// mode = "deny" blocks the images it governs, signed or not, before a
// permissive policy later in the file; like allow it takes no
// requirements.
func TestDenyModeInConfig(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "config.toml", `
[[policy]]
name = "blocked"
scopes = ["registry.example.com/untrusted/**"]
mode = "deny"

[[policy]]
name = "everything"
scopes = ["**"]
mode = "allow"
`)
	c, err := setup.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(c.RegistryConfig())
	if err != nil {
		t.Fatal(err)
	}
	eng := verify.NewEngine(snap, reg, c.EngineOptions(nil))
	decide := func(ref string) *verify.Verdict {
		d, err := name.NewDigest(ref + "@sha256:" + strings.Repeat("a", 64))
		if err != nil {
			t.Fatal(err)
		}
		return eng.Decide(t.Context(), verify.Request{Image: d, Platform: d.DigestStr()})
	}
	if v := decide("registry.example.com/untrusted/app"); v.Allowed || v.Cause != "denied_by_policy" || v.Policy != "blocked" || !strings.Contains(v.Reason, `policy "blocked"`) {
		t.Errorf("a blocked image: %+v", v)
	}
	if v := decide("registry.example.com/team/app"); !v.Allowed || v.Policy != "everything" {
		t.Errorf("another image: %+v", v)
	}
	bad := write(t, dir, "bad.toml", "[keys.k]\npem = \"\"\"\n"+pub(t)+"\"\"\"\n[[policy]]\nname = \"blocked\"\nscopes = [\"**\"]\nmode = \"deny\"\n[policy.cosign]\nkeys = [\"k\"]\n")
	if _, err := setup.Load(bad); err == nil || !strings.Contains(err.Error(), `mode "deny" skips verification`) || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("a deny policy with requirements: %v", err)
	}
}
