package gcpkms_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"

	"github.com/signgate/signgate/internal/testkit/kmstest"
	"github.com/signgate/signgate/keystore/kms"
	"github.com/signgate/signgate/keystore/kms/gcpkms"
)

// emulated starts a server speaking Cloud KMS's API, and the real gRPC
// client's provider to it.
func emulated(t *testing.T) (*kmstest.GCP, kms.Provider) {
	t.Helper()
	g := kmstest.NewGCP(t)
	p, err := gcpkms.New(context.Background(), kms.Settings{Endpoint: g.Endpoint, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	return g, p
}

// Through the real Cloud KMS gRPC client, against a server speaking its API.
func TestVersions(t *testing.T) {
	g, p := emulated(t)
	ctx := context.Background()
	g.CreateKey(t, "release")
	g.AddVersion(t, "release")
	ref := kmstest.Ref(t, "gcpkms://"+kmstest.KeyName("release"))
	vs, err := p.Versions(ctx, ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, ok := kms.Current(vs)
	if len(vs) != 2 || !ok || cur.ID != "2" || vs[0].Public == nil || vs[0].Current {
		t.Fatalf("versions: %+v", vs)
	}

	// Disabling the newest makes the one before current again, as cosign
	// would then sign with it; a version scheduled for destruction is revoked.
	g.SetState("release", 2, kmspb.CryptoKeyVersion_DISABLED)
	vs, _ = p.Versions(ctx, ref, nil)
	if cur, ok := kms.Current(vs); !ok || cur.ID != "1" || vs[1].State != kms.Disabled {
		t.Fatalf("after disabling 2: %+v", vs)
	}
	g.SetState("release", 1, kmspb.CryptoKeyVersion_DESTROY_SCHEDULED)
	vs, _ = p.Versions(ctx, ref, nil)
	if _, ok := kms.Current(vs); ok || vs[0].State != kms.PendingDeletion {
		t.Fatalf("after scheduling 1 for destruction: %+v", vs)
	}

	missing, _ := kms.Parse("gcpkms://"+kmstest.KeyName("never"), "")
	if vs, err := p.Versions(ctx, missing, []string{"1"}); err != nil || len(vs) != 1 || vs[0].State != kms.Deleted {
		t.Fatalf("missing key: %+v, %v", vs, err)
	}
	g.SetDown(true)
	if _, err := p.Versions(ctx, ref, nil); err == nil {
		t.Fatal("an unavailable KMS gave no error")
	}
}

func TestReferences(t *testing.T) {
	base := "gcpkms://" + kmstest.KeyName("release")
	for _, c := range []struct {
		uri, pin, want string
		ok             bool
	}{
		{base, "", "", true},
		{base + "/versions/3", "", "3", true},
		{base + "/cryptoKeyVersions/3", "3", "3", true},
		{base, "4", "4", true},
		{base + "/versions/3", "4", "", false},
		{base, "latest", "", false},
		{"gcpkms://projects/p/keyRings/r", "", "", false},
	} {
		ref, err := kms.Parse(c.uri, c.pin)
		if (err == nil) != c.ok || (err == nil && ref.Pin != c.want) {
			t.Errorf("%s pin %q: %+v, %v", c.uri, c.pin, ref, err)
		}
	}
}

// One version disabled, one the KMS lists enabled but signgate cannot take:
// the listing still answers, each version with its own state, and the
// unusable one says why instead of failing the key. A KMS that cannot be
// reached for a public key is still an error.
func TestUnusableVersionIsReportedNotFatal(t *testing.T) {
	g, p := emulated(t)
	ctx := context.Background()
	g.CreateKey(t, "release")
	g.AddVersion(t, "release")
	g.AddVersion(t, "release")
	g.SetState("release", 1, kmspb.CryptoKeyVersion_DISABLED)
	g.SetAlgorithm("release", 2, kmspb.CryptoKeyVersion_EC_SIGN_SECP256K1_SHA256)
	g.DenyPublicKey("release", 3)
	ref := kmstest.Ref(t, "gcpkms://"+kmstest.KeyName("release"))
	vs, err := p.Versions(ctx, ref, nil)
	if err != nil || len(vs) != 3 {
		t.Fatalf("versions: %+v, %v", vs, err)
	}
	if vs[0].State != kms.Disabled || vs[1].State != kms.Enabled || vs[1].Public != nil || !strings.Contains(vs[1].Problem, "SECP256K1") {
		t.Fatalf("versions: %+v", vs)
	}
	if !vs[2].Current || vs[2].Public != nil || !strings.Contains(vs[2].Problem, "PermissionDenied") {
		t.Fatalf("version 3: %+v", vs[2])
	}
	if cur, ok := kms.Current(vs); ok || cur.ID != "3" {
		t.Fatalf("current: %+v, %v", cur, ok)
	}
}
