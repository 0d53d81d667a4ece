package awskms_test

import (
	"context"
	"testing"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/awskms"
)

// Against the local-kms emulator, through the AWS SDK.
func TestVersionsFollowTheAlias(t *testing.T) {
	l := kmstest.StartLocalKMS(t)
	ctx := context.Background()
	p, err := awskms.New(ctx, kms.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	k1 := l.CreateKey(t)
	l.PointAlias(t, "alias/release", k1)
	ref, err := kms.Parse("awskms:///alias/release", "")
	if err != nil {
		t.Fatal(err)
	}
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
