package keysync

import (
	"crypto/elliptic"
	"strings"
	"testing"
	"time"

	"github.com/signgate/signgate/keystore/kms"
)

// A leaked version disabled in the KMS is revoked at the next sync even when
// its successor cannot be taken, whether the provider says why (Problem) or
// the key itself is refused; the successor is not trusted either.
func TestDisabledVersionIsRevokedWhenAnotherCannotBeTaken(t *testing.T) {
	p1 := newPub(t)
	spec := Spec{Name: "release", Ref: kms.Ref{URI: "gcpkms://release", Scheme: "gcpkms"}, Grace: 24 * time.Hour}
	v1c := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Current: true}
	v1off := kms.Version{ID: "1", State: kms.Disabled}
	for name, v2 := range map[string]kms.Version{
		"reported": {ID: "2", State: kms.Enabled, Current: true, Problem: "algorithm EC_SIGN_SECP256K1_SHA256 is not supported"},
		"refused":  {ID: "2", State: kms.Enabled, Current: true, Public: pubOn(t, elliptic.P224())}, // keystore refuses the curve
		"no key":   {ID: "2", State: kms.Enabled, Current: true},
	} {
		t.Run(name, func(t *testing.T) {
			st := run(t, spec, []step{
				{0, []kms.Version{v1c}, []string{"1"}, []ChangeKind{Added}},
				{time.Hour, []kms.Version{v1off, v2}, nil, []ChangeKind{Unusable, Revoked}},
				// Reported once, not at every sync.
				{2 * time.Hour, []kms.Version{v1off, v2}, nil, nil},
			})
			if !strings.HasPrefix(st.Problem, "current version 2 cannot be used: ") {
				t.Errorf("problem: %q", st.Problem)
			}
			if len(st.Unusable) != 1 || st.Unusable[0].Version != "2" || st.Unusable[0].Reason == "" {
				t.Errorf("unusable: %q", st.Unusable)
			}
		})
	}
}

// A current version that cannot be taken leaves the key without a current
// version: the one before it, which the KMS no longer calls current, does
// not stand in (beyond a configured grace period, as for any rotation).
func TestUnusableCurrentVersionHasNoStandIn(t *testing.T) {
	p1 := newPub(t)
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	v1c := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Current: true, Created: t0.Add(-48 * time.Hour)}
	v1 := kms.Version{ID: "1", State: kms.Enabled, Public: p1, Created: t0.Add(-48 * time.Hour)}
	bad := kms.Version{ID: "2", State: kms.Enabled, Current: true, Created: t0.Add(-time.Minute), Problem: "public key: permission denied"}
	noGrace := Spec{Name: "k", Ref: kms.Ref{URI: "gcpkms://k", Scheme: "gcpkms"}}
	run(t, noGrace, []step{
		{0, []kms.Version{v1c}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{v1, bad}, nil, []ChangeKind{Unusable, Expired}},
	})
	// First sight: no rotated-out version is taken in place of it.
	grace := Spec{Name: "k", Ref: kms.Ref{URI: "gcpkms://k", Scheme: "gcpkms"}, Grace: 24 * time.Hour}
	run(t, grace, []step{{0, []kms.Version{v1, bad}, nil, []ChangeKind{Unusable}}})
	// The provider marks no version current: the newest enabled one counts,
	// and an older one does not stand in for it either.
	unmarked := bad
	unmarked.Current = false
	run(t, noGrace, []step{{0, []kms.Version{v1, unmarked}, nil, []ChangeKind{Unusable}}})
	// A version that was current and now cannot be taken is revoked with
	// its fingerprint named.
	st, _ := apply(Status{}, noGrace, []kms.Version{v1c}, t0)
	st, changes := apply(st, noGrace, []kms.Version{{ID: "1", State: kms.Enabled, Current: true, Problem: "public key is not PEM"}}, t0.Add(time.Hour))
	if len(st.Versions) != 0 || len(changes) != 1 || changes[0].Kind != Unusable || changes[0].Fingerprint == "" || !changes[0].Warning() {
		t.Fatalf("trusted %+v, changes %+v", st.Versions, changes)
	}
}

// An enabled version that cannot be taken, and is neither current nor
// trusted, changes nothing but is reported, so the operator hears of it
// before rotating to it.
func TestUnusableSpareVersionIsReported(t *testing.T) {
	p1 := newPub(t)
	spec := Spec{Name: "k", Ref: kms.Ref{URI: "hashivault://k", Scheme: "hashivault"}}
	spare := kms.Version{ID: "3", State: kms.Enabled, Problem: "public key is not PEM"}
	st := run(t, spec, []step{
		{0, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1, Current: true}, spare}, []string{"1"}, []ChangeKind{Added, Unusable}},
		{time.Hour, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1, Current: true}, spare}, []string{"1"}, nil},
	})
	if st.Problem != "" || len(st.Unusable) != 1 {
		t.Fatalf("problem %q, unusable %q", st.Problem, st.Unusable)
	}
}

func TestPinnedVersionThatCannotBeTaken(t *testing.T) {
	p1 := newPub(t)
	spec := Spec{Name: "k", Ref: kms.Ref{URI: "gcpkms://k", Scheme: "gcpkms", Pin: "1"}}
	st := run(t, spec, []step{
		{0, []kms.Version{{ID: "1", State: kms.Enabled, Public: p1}}, []string{"1"}, []ChangeKind{Added}},
		{time.Hour, []kms.Version{{ID: "1", State: kms.Enabled, Problem: "public key: permission denied"}}, nil, []ChangeKind{Unusable}},
	})
	if st.Problem != "pinned version 1 cannot be used: public key: permission denied" {
		t.Fatalf("problem: %q", st.Problem)
	}
}
