package awskms_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/awskms"
)

// emulated starts the local-kms emulator, and the AWS SDK's provider to it.
func emulated(t *testing.T) (*kmstest.LocalKMS, kms.Provider) {
	t.Helper()
	l := kmstest.StartLocalKMS(t)
	p, err := awskms.New(context.Background(), kms.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return l, p
}

// Against the local-kms emulator, through the AWS SDK.
func TestVersionsFollowTheAlias(t *testing.T) {
	l, p := emulated(t)
	ctx := context.Background()
	k1 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k1)
	ref := kmstest.Ref(t, "awskms:///alias/release")
	vs, err := p.Versions(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].ID != k1 || !vs[0].Current || vs[0].State != kms.Enabled || vs[0].Public == nil {
		t.Fatalf("before rotation: %+v", vs)
	}

	k2 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k2)
	vs, err = p.Versions(ctx, ref, []string{k1})
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := kms.Current(vs)
	if !ok || cur.ID != k2 || len(vs) != 2 || vs[1].ID != k1 || vs[1].Current || vs[1].State != kms.Enabled {
		t.Fatalf("after rotation: %+v", vs)
	}

	l.DisableKey(t, k1)
	l.ScheduleDeletion(t, k2)
	vs, err = p.Versions(ctx, ref, []string{k1})
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]kms.State{}
	for _, v := range vs {
		states[v.ID] = v.State
	}
	if states[k1] != kms.Disabled || states[k2] != kms.PendingDeletion {
		t.Fatalf("states: %v", states)
	}
	if _, ok := kms.Current(vs); ok {
		t.Fatalf("a key pending deletion is current: %+v", vs)
	}

	// A key that no longer exists, and an alias that never did.
	vs, err = p.Versions(ctx, ref, []string{"11111111-2222-3333-4444-555555555555"})
	if err != nil {
		t.Fatal(err)
	}
	if vs[len(vs)-1].State != kms.Deleted {
		t.Fatalf("unknown key: %+v", vs)
	}
	gone, _ := kms.Parse("awskms:///alias/never", "")
	if vs, err := p.Versions(ctx, gone, nil); err != nil || len(vs) != 0 {
		t.Fatalf("missing alias: %+v, %v", vs, err)
	}
}

// The alias moves to a key signgate cannot verify with after the key it
// trusted is disabled; a key it trusted before is now for encryption. The
// listing still answers, each key with its own state, and the unusable
// ones say why instead of failing the reference.
func TestUnusableKeyIsReportedNotFatal(t *testing.T) {
	l, p := emulated(t)
	ctx := context.Background()
	k1 := l.CreateKey(t)
	l.DisableKey(t, k1)
	k2 := l.CreateKeyOf(t, types.KeySpecEccSecgP256k1, types.KeyUsageTypeSignVerify)
	l.PointAlias(t, "alias/release", k2)
	k3 := l.CreateKeyOf(t, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	ref := kmstest.Ref(t, "awskms:///alias/release")
	vs, err := p.Versions(ctx, ref, []string{k1, k3})
	if err != nil || len(vs) != 3 {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	if vs[0].ID != k2 || !vs[0].Current || vs[0].State != kms.Enabled || vs[0].Public != nil || vs[0].Problem == "" {
		t.Fatalf("the alias's key: %+v", vs[0])
	}
	if vs[1].ID != k1 || vs[1].State != kms.Disabled {
		t.Fatalf("the disabled key: %+v", vs[1])
	}
	if vs[2].ID != k3 || !strings.Contains(vs[2].Problem, "not SIGN_VERIFY") {
		t.Fatalf("the encryption key: %+v", vs[2])
	}
	if _, ok := kms.Current(vs); ok {
		t.Fatalf("an unusable key counts as current: %+v", vs)
	}
}

func TestUnreachableIsAnError(t *testing.T) {
	l := kmstest.StartLocalKMS(t)
	_ = l
	p, err := awskms.New(context.Background(), kms.Settings{Endpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := kms.Parse("awskms:///alias/release", "")
	if _, err := p.Versions(context.Background(), ref, nil); err == nil {
		t.Fatal("an unreachable KMS gave no error")
	}
}

func TestReferences(t *testing.T) {
	for _, c := range []struct {
		uri, pin string
		ok       bool
	}{
		{"awskms:///alias/release", "", true},
		{"awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", "", true},
		{"awskms://kms.eu-west-2.amazonaws.com/alias/release", "", true},
		{"awskms:///alias/release", "2", false}, // no versions in AWS
		{"awskms:///not-a-key", "", false},
		{"sigstore-kms-evil://x", "", false},
	} {
		_, err := kms.Parse(c.uri, c.pin)
		if (err == nil) != c.ok {
			t.Errorf("%s pin %q: err = %v", c.uri, c.pin, err)
		}
	}
}
