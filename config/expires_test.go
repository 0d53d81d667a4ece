package config

import (
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// A policy artifact's (or a tenant's fragment's) expires written without
// an offset was read in each node's time zone: nodes hours apart in zone
// disagreed by hours on when the same signed policy expired. It is
// refused, naming the artifact and the key; one with an offset is taken.
func TestFragmentExpiresNeedsOffset(t *testing.T) {
	for _, v := range []string{"2027-01-01T00:00:00", "2027-01-01T00:00", "2027-01-01 00:00:00.5", "2027-01-01", "07:32:00"} {
		_, err := ParseFragment("policy registry.example/p@sha256:x", []byte("serial = 1\nexpires = "+v+"\n"))
		if err == nil || !strings.Contains(err.Error(), "policy registry.example/p@sha256:x: expires has no offset") || !strings.Contains(err.Error(), "e.g. expires = ") {
			t.Errorf("expires = %s: %v", v, err)
		}
	}
	want := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, at := range map[string]time.Time{"2027-01-01T00:00:00Z": want, "2027-01-01T02:00:00+02:00": want, "2027-01-01T00:00:00.5z": want.Add(500 * time.Millisecond)} {
		f, err := ParseFragment("policy", []byte("serial = 1\nexpires = "+v+"\n"))
		if err != nil || !f.Expires.Equal(at) {
			t.Errorf("expires = %s: %v %v", v, f, err)
		}
	}
}

// The check above knows a local TOML datetime by the zone the decoder
// gives it: pinned here, so a decoder that changes it fails this test
// instead of letting local datetimes through.
func TestLocalTOMLZones(t *testing.T) {
	for _, v := range []string{"2027-01-01T00:00:00", "2027-01-01", "07:32:00"} {
		var x struct{ T any }
		if _, err := toml.Decode("T = "+v, &x); err != nil {
			t.Fatal(err)
		}
		if at, ok := x.T.(time.Time); !ok || !localTOMLZones[at.Location().String()] {
			t.Errorf("T = %s decodes as %#v, not in a zone localTOMLZones knows", v, x.T)
		}
	}
	for _, v := range []string{"2027-01-01T00:00:00Z", "2027-01-01T00:00:00+00:00", "2027-01-01T00:00:00+05:30"} {
		var x struct{ T any }
		if _, err := toml.Decode("T = "+v, &x); err != nil {
			t.Fatal(err)
		}
		if at, ok := x.T.(time.Time); !ok || localTOMLZones[at.Location().String()] {
			t.Errorf("T = %s decodes as %#v", v, x.T)
		}
	}
}
