package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/policysource"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// The config and the fingerprint the release before signersID recorded
// for it (computed by that release's code, commit dabe7f7).
const (
	upgradeConfig   = "[daemon]\nstate_dir = %STATE%\n[keys.security]\npem = '''\n-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEip53JySHT8hwUR6ot9pwBMSX1WW9\nVFj7mmWaDAGuM2ZBFHrt23YyEjHWGbgYonFQUPLD94TL45mg4o64PCwqzQ==\n-----END PUBLIC KEY-----\n'''\n[policy_source]\nreference = \"registry.example/signgate/policy:prod\"\nrefresh = \"10m\"\n[policy_source.cosign]\nkeys = [\"security\"]\n"
	previousRelease = "sha256:c98d5969329f43d0872b9c4429539f65a1f3551f2c3ddf3670ca813081da8ab5"
)

// loadUpgrade loads upgradeConfig with state, edited by the old, new
// string pairs of edits.
func loadUpgrade(t *testing.T, state string, edits ...string) *Config {
	t.Helper()
	body := strings.Replace(upgradeConfig, "%STATE%", `"`+state+`"`, 1)
	body = strings.NewReplacer(edits...).Replace(body)
	c, err := Parse(filepath.Join(filepath.Dir(state), "config.toml"), []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An upgrade keeps the last verified policy: one kept by the previous
// release (its fingerprint over the whole [policy_source] section) under
// the same signers is used, though this release added a key to the
// section; and a change to a key that is not a signer (refresh) sets no
// kept policy aside. A changed signer still does (its serial stays a
// floor while a key stays).
func TestUpgradeKeepsTheVerifiedPolicy(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	keep := func(signers string) {
		body := "serial = 5\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
		k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:five", Serial: 5, Body: body, Verified: time.Now(), Signers: signers}
		if err := policysource.WriteKept(state, k, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	keep(previousRelease)
	if c := loadUpgrade(t, state); c.Source.Kept == nil || c.Source.KeptError != nil {
		t.Fatalf("the previous release's policy, same signers: set aside: %v", c.Source.KeptError)
	}
	c := loadUpgrade(t, state)
	keep(c.Source.Signers)
	if c := loadUpgrade(t, state, `refresh = "10m"`, "refresh = \"1m\"\nallow_no_expires_unsafe = false"); c.Source.Kept == nil {
		t.Errorf("refresh changed: the kept policy is set aside: %v", c.Source.KeptError)
	}
	// The rule changed, the key stayed: set aside, its serial a floor
	// (the key may have signed older policies the new rule passes).
	if c := loadUpgrade(t, state, `keys = ["security"]`, "keys = [\"security\"]\nrequire = \"all\""); c.Source.Kept != nil || c.Source.Floor == nil {
		t.Errorf("the signers' rule changed: kept %v, floor %v", c.Source.Kept != nil, c.Source.Floor != nil)
	}
	// Kept by the release before the trust roots' files were in the
	// fingerprint (v2), under the same signers: used.
	keep(signersIDV2(c.Source.Boot.Config, c.Source.Boot))
	if c := loadUpgrade(t, state); c.Source.Kept == nil {
		t.Errorf("a v2 fingerprint of the same signers: set aside: %v", c.Source.KeptError)
	}
	// Kept by a release that recorded no signers: set aside, its serial a floor.
	keep("")
	if c := loadUpgrade(t, state); c.Source.Kept != nil || c.Source.Floor == nil || c.Source.Floor.Serial != 5 || !strings.Contains(c.Source.KeptError.Error(), "did not record its signers") {
		t.Errorf("no signers recorded: kept %v floor %v: %v", c.Source.Kept != nil, c.Source.Floor, c.Source.KeptError)
	}
}
