package policysource

import (
	"errors"
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// A tenant cannot define identities or certs, so any its policies name
// are the root's (trusted for other images): refused as an overreach.
func TestTenantCannotNameRootIdentitiesOrCerts(t *testing.T) {
	d := config.DelegationSection{Reference: "r/p/t:1", Namespaces: []string{"t"}, Scopes: []string{"reg.example/t/**"}, Keys: []string{"s"}}
	tenant, err := config.ParseFragment("t", []byte(`
serial = 1
[[policy]]
name = "p"
namespaces = ["t"]
scopes = ["reg.example/t/**"]
[policy.cosign]
identities = ["platform-ci"]
[policy.notation]
certs = ["root-ca"]
`))
	if err != nil {
		t.Fatal(err)
	}
	_, pols, err := Delegate("t", d, tenant)
	var oe *OverreachError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "platform-ci") {
		t.Fatalf("tenant policy trusts the root's identities and certs: %v %+v", err, pols)
	}
	notation, err := config.ParseFragment("t", []byte(`
serial = 1
[[policy]]
name = "p"
namespaces = ["t"]
scopes = ["reg.example/t/**"]
[policy.notation]
certs = ["root-ca"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Delegate("t", d, notation); !errors.As(err, &oe) || !strings.Contains(err.Error(), "root-ca") {
		t.Errorf("tenant policy trusts the root's certs: %v", err)
	}
}
