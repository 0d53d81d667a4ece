package setup_test

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/signgate/signgate/setup"
)

// A kept policy signed without expires (kept by a signgate that did not
// require one) is set aside at start, naming the reference and the key
// that would allow it; allow_no_expires_unsafe runs it.
func TestKeptPolicyWithoutExpiresIsSetAside(t *testing.T) {
	body := "serial = 3\n[[policy]]\nname = \"forever\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	path, state := sourcedConfig(t, "")
	keepVerified(t, state, body, 3, signersOf(t, path))
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "registry.example/signgate/policy:prod") || !strings.Contains(c.Source.KeptError.Error(), "allow_no_expires_unsafe") {
		t.Fatalf("a kept policy without expires: kept %v, %v", c.Source.Kept != nil, c.Source.KeptError)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("[policy_source]\n"), []byte("[policy_source]\nallow_no_expires_unsafe = true\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	keepVerified(t, state, body, 3, signersOf(t, path))
	if c, err = setup.Load(path); err != nil || c.Source.Kept == nil || len(c.Policies) != 1 {
		t.Fatalf("with allow_no_expires_unsafe: %v %v", err, c.Source.KeptError)
	}
}

// A kept policy signed to expire beyond max_validity (kept by a release
// that did not bound it) is set aside at start, naming the reference and
// the key; a node that raises max_validity runs it.
func TestKeptPolicyExpiringTooFarIsSetAside(t *testing.T) {
	body := "serial = 3\nexpires = 2100-01-01T00:00:00Z\n[[policy]]\nname = \"frozen\"\nscopes = [\"**\"]\nmode = \"allow\"\n"
	path, state := sourcedConfig(t, "")
	keepVerified(t, state, body, 3, signersOf(t, path))
	c, err := setup.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Source.Kept != nil || c.Source.KeptError == nil || !strings.Contains(c.Source.KeptError.Error(), "registry.example/signgate/policy:prod") || !strings.Contains(c.Source.KeptError.Error(), "policy_source.max_validity") {
		t.Fatalf("a kept policy expiring in 2100: kept %v, %v", c.Source.Kept != nil, c.Source.KeptError)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte("[policy_source]\n"), []byte("[policy_source]\nmax_validity = \"1000000h\"\n"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	keepVerified(t, state, body, 3, signersOf(t, path))
	if c, err = setup.Load(path); err != nil || c.Source.Kept == nil || len(c.Policies) != 1 {
		t.Fatalf("with max_validity raised: %v %v", err, c.Source.KeptError)
	}
}
