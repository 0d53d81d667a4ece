package keystore_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/signgate/signgate/keystore"
)

func TestSharedMaterial(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := func(name, version string, priv *ecdsa.PrivateKey) *keystore.Key {
		k, err := keystore.NewKey(name, "kms://"+name, version, &priv.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// build's old version and release's current one are the same key (an
	// alias moved); other is distinct.
	s, err := keystore.NewStore(key("build", "1", k1), key("build", "2", k2), key("release", "7", k1), key("other", "1", k2))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(s.Shared()); got != "[[build other] [build release]]" {
		t.Fatalf("shared: %s", got)
	}
}
