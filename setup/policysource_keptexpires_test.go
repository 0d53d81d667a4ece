package setup_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/internal/testkit/policytest"
	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"
)

// A kept policy whose expires has no offset (kept by a release that read
// it in the node's zone) is set aside at start, naming the key, and its
// serial still bounds the source.
func TestKeptPolicyExpiresWithoutOffsetIsSetAside(t *testing.T) {
	path, state := sourcedConfig(t, "")
	keepVerified(t, state, "serial = 3\nexpires = "+strings.TrimSuffix(policytest.Soon, "Z")+"\n[[policy]]\nname = \"local\"\nscopes = [\"**\"]\nmode = \"allow\"\n", 3, signersOf(t, path))
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "expires has no offset") || c.Source.Floor == nil || c.Source.Floor.Serial != 3 {
		t.Fatalf("a kept policy whose expires has no offset: kept %v, floor %+v, %v", c.Source.Kept != nil, c.Source.Floor, c.Source.KeptError)
	}
}

// A kept policy's max_validity is measured from the signing time its
// signature carried (kept with it), not the clock at start: one signed
// 80 days before its expires, 100 days from now, is run.
func TestKeptPolicyValidityFromItsSigningTime(t *testing.T) {
	now := time.Now()
	body := "serial = 3\nexpires = " + now.Add(100*24*time.Hour).UTC().Format(time.RFC3339) + "\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	path, state := sourcedConfig(t, "")
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:old", Serial: 3, Body: body, Verified: now, Signers: signersOf(t, path)}
	for _, issued := range []time.Time{{}, now.Add(20 * 24 * time.Hour)} {
		k.Issued = issued
		if err := policysource.WriteKept(state, k, now); err != nil {
			t.Fatal(err)
		}
		c, err := setup.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if taken := c.Source.Kept != nil; taken != !issued.IsZero() {
			t.Errorf("issued %v: taken %v, %v", issued, taken, c.Source.KeptError)
		}
	}
}

// Why a delegation has no fragment, as the last refresh recorded it or
// as found at start, is in the config's warnings (check-config, and the
// log at each reload): the refresh's record for one, the start's
// (expired, with when) for the other.
func TestAbsentDelegationsAreWarned(t *testing.T) {
	path, state := sourcedConfig(t, "")
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	expired := tenantFrag("b", "sha256:b", "ns-b", "registry.example/b/**")
	expired.Body = strings.Replace(expired.Body, "serial = 1\n", "serial = 1\nexpires = "+past+"\n", 1)
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:root", Serial: 1, Body: tenantRoot(t), Verified: time.Now(), Signers: signersOf(t, path),
		Tenants: map[string]*policysource.Tenant{"b": expired},
		Absent:  map[string]*policysource.Absence{"a": {Cause: policysource.NeverPublished, Reference: "registry.example/a/policy:prod", Why: "never published: its registry has nothing there"}}}
	c := keepAndLoad(t, path, state, k)
	w := strings.Join(c.Warnings(), "\n")
	for _, want := range []string{
		`delegation "a" has no fragment from registry.example/a/policy:prod in force (never published`,
		`delegation "b" has no fragment from ` + expired.Reference + ` in force (its fragment sha256:b expired at ` + past,
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings do not say %q:\n%s", want, w)
		}
	}
	if p := c.Policies.Match("registry.example/a/app", "ns-a"); p == nil || !strings.Contains(p.Reason, "never published: its registry") {
		t.Errorf("a's image in ns-a: %+v", p)
	}
}
