package keysync

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/keystore/kms"
)

func newPub(t *testing.T) *ecdsa.PublicKey {
	t.Helper()
	return pubOn(t, elliptic.P256())
}

// pubOn is a new public key on curve.
func pubOn(t *testing.T, curve elliptic.Curve) *ecdsa.PublicKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey
}

type step struct {
	at   time.Duration // after t0
	vs   []kms.Version // what the KMS reports
	want []string      // trusted versions, in order
	kind []ChangeKind  // changes, in order
}

func run(t *testing.T, spec Spec, steps []step) Status {
	t.Helper()
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	var st Status
	for i, s := range steps {
		next, changes := apply(st, spec, s.vs, t0.Add(s.at))
		var got []string
		for _, v := range next.Versions {
			got = append(got, v.Version)
		}
		var kinds []ChangeKind
		for _, c := range changes {
			kinds = append(kinds, c.Kind)
			if c.Key != spec.Name || c.Detail == "" {
				t.Errorf("step %d: change without key or detail: %+v", i, c)
			}
		}
		if strings.Join(got, ",") != strings.Join(s.want, ",") {
			t.Fatalf("step %d: trusted %v, want %v (changes %+v)", i, got, s.want, changes)
		}
		if len(kinds) != len(s.kind) {
			t.Fatalf("step %d: changes %+v, want kinds %v", i, changes, s.kind)
		}
		for j := range kinds {
			if kinds[j] != s.kind[j] {
				t.Fatalf("step %d: changes %+v, want kinds %v", i, changes, s.kind)
			}
		}
		st = next
	}
	return st
}

func TestRotationKeepsThePreviousVersionForTheGracePeriod(t *testing.T) {
	p1, p2 := newPub(t), newPub(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	v1 := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Created: t0.Add(-48 * time.Hour)}
	v2 := kms.Version{ID: "2", State: kms.Enabled, Public: p2, Created: t0.Add(time.Hour), Current: true}
	cur1 := v1
	cur1.Current = true
	spec := Spec{Name: "release", Ref: kms.Ref{URI: "hashivault://release", Scheme: "hashivault"}, Grace: 24 * time.Hour}
	st := run(t, spec, []step{
		{0, []kms.Version{cur1}, []string{"1"}, []ChangeKind{Added}},
		{time.Minute, []kms.Version{cur1}, []string{"1"}, nil},
		// Rotated: 2 is current at once, 1 stays for 24h from when it was seen.
		{2 * time.Hour, []kms.Version{v1, v2}, []string{"2", "1"}, []ChangeKind{Added, Rotated}},
		{25 * time.Hour, []kms.Version{v1, v2}, []string{"2", "1"}, nil},
		{26*time.Hour + time.Second, []kms.Version{v1, v2}, []string{"2"}, []ChangeKind{Expired}},
	})
	if !st.Versions[0].GraceUntil.IsZero() {
		t.Fatalf("the current version has a grace end: %+v", st.Versions[0])
	}
}

func TestDisabledOrDeletedVersionsAreRevokedAtOnce(t *testing.T) {
	p1, p2 := newPub(t), newPub(t)
	spec := Spec{Name: "release", Ref: kms.Ref{URI: "hashivault://release", Scheme: "hashivault"}, Grace: 24 * time.Hour}
	v1c := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Current: true}
	v1 := kms.Version{ID: "1", State: kms.Enabled, Public: p1}
	v1off := kms.Version{ID: "1", State: kms.Disabled}
	v2 := kms.Version{ID: "2", State: kms.Enabled, Public: p2, Current: true}
	v2gone := kms.Version{ID: "2", State: kms.PendingDeletion, Current: true}
	st := run(t, spec, []step{
		{0, []kms.Version{v1c}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{v1, v2}, []string{"2", "1"}, []ChangeKind{Added, Rotated}},
		// Disabled during its grace period: gone at the next sync.
		{2 * time.Hour, []kms.Version{v1off, v2}, []string{"2"}, []ChangeKind{Revoked}},
		// The current version scheduled for deletion: nothing is trusted, and
		// version 1 does not come back.
		{3 * time.Hour, []kms.Version{v1off, v2gone}, nil, []ChangeKind{Revoked}},
	})
	if !strings.Contains(st.Problem, "pending_deletion") {
		t.Fatalf("problem: %q", st.Problem)
	}
	// A version that vanished from the listing is revoked.
	run(t, spec, []step{
		{0, []kms.Version{v1c}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{v2}, []string{"2"}, []ChangeKind{Added, Revoked}},
	})
}

func TestPinnedVersion(t *testing.T) {
	p1, p2 := newPub(t), newPub(t)
	spec := Spec{Name: "release", Ref: kms.Ref{URI: "hashivault://release", Scheme: "hashivault", Pin: "1"}, Grace: 24 * time.Hour}
	v1 := kms.Version{ID: "1", State: kms.Enabled, Public: p1}
	v2 := kms.Version{ID: "2", State: kms.Enabled, Public: p2, Current: true}
	st := run(t, spec, []step{
		// The pin ignores the current version.
		{0, []kms.Version{v1, v2}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{{ID: "1", State: kms.Disabled}, v2}, nil, []ChangeKind{Revoked}},
	})
	if st.Problem != "pinned version 1 is disabled" {
		t.Fatalf("problem: %q", st.Problem)
	}
}

func TestFirstSightHonoursARecentRotation(t *testing.T) {
	p1, p2 := newPub(t), newPub(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	v1 := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Created: t0.Add(-30 * 24 * time.Hour)}
	v2 := kms.Version{ID: "2", State: kms.Enabled, Public: p2, Current: true, Created: t0.Add(-time.Hour)}
	// A node that starts an hour after a rotation trusts the previous
	// version for the rest of the grace period, as the others do.
	st := run(t, Spec{Name: "k", Ref: kms.Ref{URI: "hashivault://k"}, Grace: 24 * time.Hour}, []step{
		{0, []kms.Version{v1, v2}, []string{"2", "1"}, []ChangeKind{Added, Added}},
	})
	if want := v2.Created.Add(24 * time.Hour); !st.Versions[1].GraceUntil.Equal(want) {
		t.Fatalf("grace until %v, want %v", st.Versions[1].GraceUntil, want)
	}
	// After the grace period, only the current version.
	run(t, Spec{Name: "k", Ref: kms.Ref{URI: "hashivault://k"}, Grace: 30 * time.Minute}, []step{
		{0, []kms.Version{v1, v2}, []string{"2"}, []ChangeKind{Added}},
	})
}

func TestNoGracePeriod(t *testing.T) {
	p1, p2 := newPub(t), newPub(t)
	spec := Spec{Name: "k", Ref: kms.Ref{URI: "hashivault://k"}}
	run(t, spec, []step{
		{0, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1, Current: true}}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1}, {ID: "2", State: kms.Enabled, Public: p2, Current: true}}, []string{"2"}, []ChangeKind{Added, Expired}},
	})
}

func TestNewKeyMaterialUnderAnOldVersionIsNotTrustedAsTheOld(t *testing.T) {
	p1, p1b := newPub(t), newPub(t)
	spec := Spec{Name: "k", Ref: kms.Ref{URI: "hashivault://k"}, Grace: time.Hour}
	st := run(t, spec, []step{
		{0, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1, Current: true}}, []string{"1"}, []ChangeKind{Added}},
		{time.Minute, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1b, Current: true}}, []string{"1"}, []ChangeKind{Revoked, Added}},
	})
	if !st.Versions[0].key.Public.(*ecdsa.PublicKey).Equal(p1b) {
		t.Fatal("the old key material is still trusted")
	}
}
