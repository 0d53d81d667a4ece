package setup_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/policysource"
	"github.com/signgate/signgate/setup"

	"github.com/signgate/signgate/internal/testkit/policytest"
)

// signersOf is the signers fingerprint of the config at path.
func signersOf(t *testing.T, path string) string {
	t.Helper()
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.Source.Signers
}

// keepVerified writes a kept policy of body as if verified by signers.
func keepVerified(t *testing.T, state, body string, serial int64, signers string) {
	t.Helper()
	k := &policysource.Kept{Reference: "registry.example/signgate/policy:prod", Digest: "sha256:old", Serial: serial, Body: body, Verified: time.Now(), Signers: signers}
	if err := policysource.WriteKept(state, k, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// The kept policy is tied to the signers that verified it: after the
// operator replaces policy_source's key (say, the old one leaked), a
// restart sets the policy the old key signed aside until the source is
// verified again (whether its serial still bounds the source is
// TestDroppingOneSignerKeepsTheSerialFloor's).
func TestKeptPolicySetAsideAfterSignerRotation(t *testing.T) {
	body := "serial = 7\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"leaked-key-policy\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	path, state := sourcedConfig(t, "")
	signers := signersOf(t, path)
	keepVerified(t, state, body, 7, signers)
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept == nil {
		t.Fatalf("the same signers: the kept policy is set aside: %v", c.Source.KeptError)
	}

	path2, state2 := sourcedConfig(t, "") // a fresh key: not the one that signed
	keepVerified(t, state2, body, 7, signers)
	c, err = setup.Load(path2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil {
		t.Errorf("policy %q, signed by a key no longer configured, is in force after the signers changed", c.Policies[0].Name)
	}
	if c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "signers") {
		t.Errorf("the reason is not named: %v", c.Source.KeptError)
	}
}

// A serial past 2^53 is malformed: a policy carrying MaxInt64 would leave
// nothing later with a higher one.
func TestAbsurdPolicySerialIsMalformed(t *testing.T) {
	path, state := sourcedConfig(t, "")
	keepVerified(t, state, "serial = 9223372036854775807\nexpires = "+policytest.Soon+"\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n", 1<<63-1, signersOf(t, path))
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "serial") {
		t.Errorf("a serial of MaxInt64 was taken: kept %v, %v", c.Source.Kept != nil, c.Source.KeptError)
	}
}

func withMinSerial(t *testing.T, path, v string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("[policy_source]\n"), []byte("[policy_source]\nmin_serial = "+v+"\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// policy_source.min_serial bounds the kept policy too: one below it is set
// aside; a negative or absurd value is an error naming the key.
func TestMinSerialSetsAsideAnOlderKeptPolicy(t *testing.T) {
	body := "serial = 4\nexpires = " + policytest.Soon + "\n[[policy]]\nname = \"p\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	path, state := sourcedConfig(t, "")
	withMinSerial(t, path, "5")
	keepVerified(t, state, body, 4, signersOf(t, path))
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "min_serial") {
		t.Errorf("a kept serial 4 under min_serial 5: kept %v, %v", c.Source.Kept != nil, c.Source.KeptError)
	}
	for _, v := range []string{"-1", "9007199254740993"} {
		path, _ := sourcedConfig(t, "")
		withMinSerial(t, path, v)
		if _, err := setup.Load(path); err == nil || !strings.Contains(err.Error(), "policy_source.min_serial") {
			t.Errorf("min_serial = %s: %v", v, err)
		}
	}
}
