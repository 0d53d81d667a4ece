package vaultkms_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/vaultkms"
)

// Through the real Vault API client, against a server speaking Vault's
// transit API.
func TestVersions(t *testing.T) {
	v := kmstest.NewVault(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(v.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_TOKEN", "")
	ctx := context.Background()
	p, err := vaultkms.New(ctx, kms.Settings{Endpoint: v.URL, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	v.CreateKey(t, "release")
	v.Rotate(t, "release")
	ref := kmstest.Ref(t, "hashivault://release")
	vs, err := p.Versions(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := kms.Current(vs)
	if len(vs) != 2 || !ok || cur.ID != "2" || vs[0].State != kms.Enabled || vs[0].Public == nil {
		t.Fatalf("versions: %+v", vs)
	}

	// Vault refuses to verify with versions below min_decryption_version.
	v.SetMinDecryptionVersion("release", 2)
	vs, _ = p.Versions(ctx, ref, nil)
	if vs[0].State != kms.Disabled || vs[1].State != kms.Enabled {
		t.Fatalf("after min_decryption_version=2: %+v", vs)
	}

	v.Delete("release")
	vs, err = p.Versions(ctx, ref, []string{"1", "2"})
	if err != nil || len(vs) != 2 || vs[0].State != kms.Deleted || vs[1].State != kms.Deleted {
		t.Fatalf("deleted key: %+v, %v", vs, err)
	}

	v.SetDown(true)
	if _, err := p.Versions(ctx, ref, nil); err == nil {
		t.Fatal("a sealed Vault gave no error")
	}
}

// One version retired (disabled), one whose public key does not parse: the
// listing still answers, each version with its own state, and the unusable
// one says why instead of failing the key.
func TestUnusableVersionIsReportedNotFatal(t *testing.T) {
	v := kmstest.NewVault(t)
	p := v.Provider(t)
	v.CreateKey(t, "release")
	v.Rotate(t, "release")
	v.SetMinDecryptionVersion("release", 2)
	v.SetPublicKey("release", 2, "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
	ref := kmstest.Ref(t, "hashivault://release")
	vs, err := p.Versions(context.Background(), ref, nil)
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	if vs[0].State != kms.Disabled || vs[1].State != kms.Enabled || !vs[1].Current || vs[1].Public != nil || !strings.Contains(vs[1].Problem, "PEM") {
		t.Fatalf("versions: %+v", vs)
	}
	if _, ok := kms.Current(vs); ok {
		t.Fatalf("an unusable current version counts as current: %+v", vs)
	}
}

func TestWrongTokenIsAnError(t *testing.T) {
	v := kmstest.NewVault(t)
	v.CreateKey(t, "release")
	t.Setenv("VAULT_TOKEN", "s.wrong")
	p, err := vaultkms.New(context.Background(), kms.Settings{Endpoint: v.URL})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := kms.Parse("hashivault://release", "")
	if _, err := p.Versions(context.Background(), ref, nil); err == nil {
		t.Fatal("a refused token gave no error")
	}
}

func TestReferences(t *testing.T) {
	for _, c := range []struct {
		uri, pin string
		ok       bool
	}{
		{"hashivault://release", "", true},
		{"hashivault://release", "3", true},
		{"hashivault://release", "latest", false},
		{"hashivault://a/b", "", false},
		{"openbao://release", "2", true},
	} {
		ref, err := kms.Parse(c.uri, c.pin)
		if (err == nil) != c.ok {
			t.Errorf("%s pin %q: err = %v", c.uri, c.pin, err)
		}
		if err == nil && ref.Pin != c.pin {
			t.Errorf("%s: pin %q", c.uri, ref.Pin)
		}
	}
}
