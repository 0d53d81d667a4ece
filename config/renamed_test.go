package config

import (
	"strings"
	"testing"
)

// [policy.notation] identities is now trusted_identities: the old key is
// refused with the file, the policy's table and the new key, in the node's
// config and in a policy artifact alike, rather than read as a typo.
func TestNotationIdentitiesIsRenamed(t *testing.T) {
	body := "[[policy]]\nname = \"prod\"\nscopes = [\"reg.io/**\"]\n[policy.notation]\ncerts = [\"r\"]\nidentities = [\"x509.subject: CN=build\"]\n"
	_, _, err := Read("/etc/signgate/config.toml", []byte(body))
	want := []string{"/etc/signgate/config.toml", `policy[0] "prod".notation.identities`, "trusted_identities"}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("config: %v, want it to say %q", err, w)
		}
	}
	_, err = ParseFragment("artifact", []byte("serial = 1\n"+body))
	for _, w := range []string{"artifact", `policy[0] "prod".notation.identities`, "trusted_identities"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("artifact: %v, want it to say %q", err, w)
		}
	}
	ok := strings.Replace(body, "\nidentities", "\ntrusted_identities", 1)
	c, p, err := Read("config.toml", []byte(ok))
	if err != nil || p.Err() != nil || c.File.Policy[0].Notation.Identities[0] != "x509.subject: CN=build" {
		t.Fatalf("trusted_identities: %v %v", err, p.Err())
	}
}
