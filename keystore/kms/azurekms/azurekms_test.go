package azurekms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/azurekms"
)

// Through the real azkeys client (TLS, Key Vault's bearer challenge),
// against a server speaking Key Vault's REST API.
func TestVersions(t *testing.T) {
	a := kmstest.NewAzure(t)
	p := azurekms.NewWithCredential(a.Credential(), a.ClientOptions())
	ctx := context.Background()
	v1 := a.CreateKey(t, "release")
	v2 := a.Rotate(t, "release")
	ref := kmstest.Ref(t, "azurekms://"+a.Host+"/release")
	vs, err := p.Versions(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := kms.Current(vs)
	if len(vs) != 2 || !ok || cur.ID != v2 || vs[0].ID != v1 || vs[0].Public == nil || vs[0].State != kms.Enabled {
		t.Fatalf("versions: %+v", vs)
	}
	a.SetEnabled("release", v1, false)
	vs, _ = p.Versions(ctx, ref, nil)
	if vs[0].State != kms.Disabled {
		t.Fatalf("after disabling %s: %+v", v1, vs)
	}
	// Key Vault refuses to serve a disabled key: disabling the current
	// version must read as a revocation, not as an outage.
	a.SetEnabled("release", v2, false)
	vs, err = p.Versions(ctx, ref, nil)
	if err != nil || len(vs) != 2 || vs[1].State != kms.Disabled || !vs[1].Current {
		t.Fatalf("after disabling the current version: %+v, %v", vs, err)
	}
	if _, ok := kms.Current(vs); ok {
		t.Fatalf("a disabled current version is current: %+v", vs)
	}
	a.Delete("release")
	vs, err = p.Versions(ctx, ref, []string{v1, v2})
	if err != nil || len(vs) != 2 || vs[0].State != kms.Deleted {
		t.Fatalf("deleted key: %+v, %v", vs, err)
	}
	unreachable, _ := kms.Parse("azurekms://127.0.0.1:1/release", "")
	if _, err := p.Versions(ctx, unreachable, nil); err == nil {
		t.Fatal("an unreachable vault gave no error")
	}
}

// One version disabled, the current one on a curve signgate does not
// verify with: the listing still answers, each version with its own state,
// and the unusable one says why instead of failing the key.
func TestUnusableVersionIsReportedNotFatal(t *testing.T) {
	a := kmstest.NewAzure(t)
	p := azurekms.NewWithCredential(a.Credential(), a.ClientOptions())
	v1 := a.CreateKey(t, "release")
	v2 := a.Rotate(t, "release")
	a.SetEnabled("release", v1, false)
	a.SetCurve("release", v2, "P-256K")
	ref := kmstest.Ref(t, "azurekms://"+a.Host+"/release")
	vs, err := p.Versions(context.Background(), ref, nil)
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	if vs[0].ID != v1 || vs[0].State != kms.Disabled || vs[1].ID != v2 || !vs[1].Current || vs[1].Public != nil || !strings.Contains(vs[1].Problem, "P-256K") {
		t.Fatalf("versions: %+v", vs)
	}
	if _, ok := kms.Current(vs); ok {
		t.Fatalf("an unusable current version counts as current: %+v", vs)
	}
}

func TestReferences(t *testing.T) {
	for _, c := range []struct {
		uri, pin, want string
		ok             bool
	}{
		{"azurekms://v.vault.azure.net/release", "", "", true},
		{"azurekms://v.vault.azure.net/release/0123abcd", "", "0123abcd", true},
		{"azurekms://v.vault.azure.net/release/0123abcd", "ffff", "", false},
		{"azurekms://v.vault.azure.net", "", "", false},
	} {
		ref, err := kms.Parse(c.uri, c.pin)
		if (err == nil) != c.ok || (err == nil && ref.Pin != c.want) {
			t.Errorf("%s pin %q: %+v, %v", c.uri, c.pin, ref, err)
		}
	}
}
