// Package keysync keeps the keys signgate trusts in step with a KMS: it
// syncs each KMS-backed key on a schedule, decides which of its versions are
// trusted (the current one, a rotated-out one during its grace period, never
// a disabled or deleted one), and keeps the last-known-good result on disk
// for when the KMS cannot be reached.
package keysync

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/kms"
)

// Spec is one KMS-backed key from the config.
type Spec struct {
	Name  string
	Ref   kms.Ref
	Grace time.Duration // how long a rotated-out version stays trusted
}

// Trusted is one trusted version of a key.
type Trusted struct {
	Version     string    `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Algorithm   string    `json:"algorithm"`
	PublicKey   string    `json:"public_key"` // PEM
	Since       time.Time `json:"since"`      // first trusted
	// GraceUntil is zero for the current version; for a rotated-out one,
	// when it stops being trusted.
	GraceUntil time.Time `json:"grace_until,omitzero"`

	key *keystore.Key
}

// Status is what signgate knows of one KMS-backed key.
type Status struct {
	Name     string    `json:"name"`
	Source   string    `json:"source"` // the reference
	Pin      string    `json:"pin,omitempty"`
	Versions []Trusted `json:"versions"`
	LastSync time.Time `json:"last_sync,omitzero"` // last successful sync
	// Problem says why the key has no current version (disabled, deleted).
	Problem string `json:"problem,omitempty"`
	// Unusable lists each version the KMS reports enabled that signgate
	// cannot take, and why. None of them is trusted.
	Unusable []UnusableVersion `json:"unusable,omitempty"`

	// Not persisted: this run's view.
	LastError   string    `json:"-"`
	LastAttempt time.Time `json:"-"`
	FromState   bool      `json:"-"` // loaded from the state file, not synced yet
}

// UnusableVersion is a version the KMS reports enabled that signgate cannot
// take: an unsupported algorithm, a public key it cannot get or parse.
type UnusableVersion struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// ChangeKind says what happened to a key version.
type ChangeKind string

const (
	Added   ChangeKind = "added"   // a version is trusted for the first time
	Rotated ChangeKind = "rotated" // a version stopped being current; trusted until its grace ends
	Expired ChangeKind = "expired" // a rotated-out version's grace period ended
	Revoked ChangeKind = "revoked" // disabled, deleted or scheduled for deletion in the KMS
	Stale   ChangeKind = "stale"   // not synced for longer than max_staleness: no longer trusted
	Fresh   ChangeKind = "fresh"   // synced again after being stale
	// Unusable: enabled in the KMS, but signgate cannot take it (an
	// unsupported algorithm, a public key it cannot get or parse); not
	// trusted.
	Unusable ChangeKind = "unusable"
)

// Change is one change to the trusted keys.
type Change struct {
	Key         string     `json:"key"`
	Kind        ChangeKind `json:"change"`
	Version     string     `json:"version,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Detail      string     `json:"detail"`
}

// Warning reports whether the change takes trust away unexpectedly, so
// operators must hear of it.
func (c Change) Warning() bool { return c.Kind == Revoked || c.Kind == Stale || c.Kind == Unusable }

func (c Change) String() string {
	s := fmt.Sprintf("key %q", c.Key)
	if c.Version != "" {
		s += " version " + c.Version
	}
	if c.Fingerprint != "" {
		s += " (" + c.Fingerprint + ")"
	}
	return s + ": " + string(c.Kind) + ": " + c.Detail
}

// apply works out a key's trusted versions from what the KMS reports now.
// It is pure: the sync loop, the tests and the state file all rely on the
// same rules.
//
//   - A pinned key trusts its one version while that version is enabled.
//   - A following key trusts the current version. A version that was current
//     and no longer is stays trusted for the grace period, counted from when
//     signgate saw the rotation (or, on a first sync, from when its successor
//     was created), then is dropped.
//   - A version that is disabled, deleted or scheduled for deletion is dropped
//     at once, grace or not.
//   - Each version is judged alone: one that is enabled but cannot be taken
//     (see kms.Version.Problem) is not trusted and is reported, and what the
//     KMS says of the others still applies. A current version that cannot
//     be taken leaves the key with no current version; no older one stands
//     in for it.
func apply(prev Status, spec Spec, vs []kms.Version, now time.Time) (Status, []Change) {
	next := Status{Name: spec.Name, Source: spec.Ref.URI, Pin: spec.Ref.Pin, LastSync: now}
	byID := map[string]kms.Version{}
	for _, v := range vs {
		byID[v.ID] = v
	}
	old := map[string]Trusted{}
	for _, t := range prev.Versions {
		old[t.Version] = t
	}
	wasUnusable := map[UnusableVersion]bool{}
	for _, u := range prev.Unusable {
		wasUnusable[u] = true
	}
	var changes []Change
	// unusable records a version that cannot be taken, and reports it when
	// it is new, or when it takes trust away.
	unusable := func(v kms.Version, why string) {
		line := UnusableVersion{Version: v.ID, Reason: why}
		if slices.Contains(next.Unusable, line) {
			return
		}
		next.Unusable = append(next.Unusable, line)
		o, wasTrusted := old[v.ID]
		if wasTrusted || !wasUnusable[line] {
			changes = append(changes, Change{Key: spec.Name, Kind: Unusable, Version: v.ID, Fingerprint: o.Fingerprint, Detail: "enabled in the KMS but cannot be used, so not trusted: " + why})
		}
	}
	// take checks a version can be trusted; it reports one that cannot,
	// and says why.
	take := func(v kms.Version) (Trusted, string) {
		if v.Problem != "" {
			unusable(v, v.Problem)
			return Trusted{}, v.Problem
		}
		t, err := trustedFrom(spec.Name, spec.Ref.URI, v, now)
		if err != nil {
			if u := errors.Unwrap(err); u != nil {
				err = u // NewKey's error names the key, as the change does
			}
			unusable(v, err.Error())
			return Trusted{}, err.Error()
		}
		return t, ""
	}
	// keep trusts a version, until graceUntil if that is set; it returns
	// why it cannot.
	keep := func(v kms.Version, graceUntil time.Time) string {
		t, why := take(v)
		if why != "" {
			return why
		}
		t.GraceUntil = graceUntil
		if o, ok := old[v.ID]; ok && o.Fingerprint == t.Fingerprint {
			t.Since = o.Since
		} else {
			if ok {
				changes = append(changes, Change{Key: spec.Name, Kind: Revoked, Version: v.ID, Fingerprint: o.Fingerprint, Detail: "the KMS now serves different key material under this version"})
			}
			detail := "trusted"
			if !graceUntil.IsZero() {
				detail = "trusted as a rotated-out version until " + graceUntil.UTC().Format(time.RFC3339)
			}
			changes = append(changes, Change{Key: spec.Name, Kind: Added, Version: v.ID, Fingerprint: t.Fingerprint, Detail: detail})
		}
		next.Versions = append(next.Versions, t)
		return ""
	}
	gone := func(o Trusted, why string, kind ChangeKind) {
		changes = append(changes, Change{Key: spec.Name, Kind: kind, Version: o.Version, Fingerprint: o.Fingerprint, Detail: why})
	}

	if spec.Ref.Pin != "" {
		v, ok := byID[spec.Ref.Pin]
		enabled := ok && v.State.Usable()
		switch {
		case enabled:
			if why := keep(v, time.Time{}); why != "" {
				next.Problem = fmt.Sprintf("pinned version %s cannot be used: %s", spec.Ref.Pin, why)
			}
		case ok:
			next.Problem = fmt.Sprintf("pinned version %s is %s", spec.Ref.Pin, v.State)
		default:
			next.Problem = fmt.Sprintf("pinned version %s does not exist", spec.Ref.Pin)
		}
		for _, o := range prev.Versions {
			if o.Version == spec.Ref.Pin && enabled {
				continue // kept, or reported as unusable
			}
			gone(o, next.Problem, Revoked)
		}
		sortUnusable(next.Unusable)
		return next, changes
	}

	cur, hasCur := kms.Current(vs)
	switch {
	case cur.ID != "" && cur.State.Usable():
		// Trusted, or not and reported; never replaced by an older one.
		if why := keep(cur, time.Time{}); why != "" {
			hasCur = false
			next.Problem = fmt.Sprintf("current version %s cannot be used: %s", cur.ID, why)
		} else if o, ok := old[cur.ID]; ok && !o.GraceUntil.IsZero() {
			changes = append(changes, Change{Key: spec.Name, Kind: Added, Version: cur.ID, Fingerprint: o.Fingerprint, Detail: "current again"})
		}
	default:
		next.Problem = "the KMS reports no usable current version"
		for _, v := range vs {
			if v.Current {
				next.Problem = fmt.Sprintf("current version %s is %s", v.ID, v.State)
			}
		}
	}
	for _, o := range prev.Versions {
		if cur.ID != "" && o.Version == cur.ID && cur.State.Usable() {
			continue // kept as current, or reported as unusable
		}
		v, listed := byID[o.Version]
		switch {
		case !listed:
			gone(o, "no longer exists in the KMS", Revoked)
		case !v.State.Usable():
			gone(o, fmt.Sprintf("is %s in the KMS", v.State), Revoked)
		case o.GraceUntil.IsZero():
			until := now.Add(spec.Grace)
			if spec.Grace <= 0 {
				gone(o, "rotated out; no grace period is configured", Expired)
				continue
			}
			if keep(v, until) == "" {
				changes = append(changes, Change{Key: spec.Name, Kind: Rotated, Version: o.Version, Fingerprint: o.Fingerprint,
					Detail: fmt.Sprintf("no longer current (now %s); trusted until %s", cur.ID, until.UTC().Format(time.RFC3339))})
			}
		case now.Before(o.GraceUntil):
			keep(v, o.GraceUntil)
		default:
			gone(o, "grace period ended at "+o.GraceUntil.UTC().Format(time.RFC3339), Expired)
		}
	}
	// First sight of a key: a version rotated out shortly before signgate
	// started is still in its grace period, counted from its successor's
	// creation. Later, rotations are seen as they happen.
	if len(prev.Versions) == 0 && prev.LastSync.IsZero() && hasCur && spec.Grace > 0 {
		for _, v := range vs {
			if v.ID == cur.ID || !v.State.Usable() {
				continue
			}
			succ := successor(vs, v)
			if succ.IsZero() || !now.Before(succ.Add(spec.Grace)) {
				continue
			}
			keep(v, succ.Add(spec.Grace))
		}
	}
	// Every other enabled version that cannot be taken is reported too, so
	// an operator hears of it before rotating to it.
	for _, v := range vs {
		if v.State.Usable() && v.Problem != "" {
			unusable(v, v.Problem)
		}
	}
	sortUnusable(next.Unusable)
	return next, changes
}

func sortUnusable(us []UnusableVersion) {
	slices.SortFunc(us, func(a, b UnusableVersion) int { return strings.Compare(a.Version, b.Version) })
}

// successor is when the next newer version was created.
func successor(vs []kms.Version, v kms.Version) time.Time {
	var t time.Time
	for _, o := range vs {
		if o.Created.After(v.Created) && (t.IsZero() || o.Created.Before(t)) {
			t = o.Created
		}
	}
	return t
}

func trustedFrom(name, source string, v kms.Version, now time.Time) (Trusted, error) {
	if v.Public == nil {
		return Trusted{}, errors.New("the KMS served no public key")
	}
	k, err := keystore.NewKey(name, source, v.ID, v.Public)
	if err != nil {
		return Trusted{}, err
	}
	pemText, err := keystore.MarshalPublicKeyPEM(v.Public)
	if err != nil {
		return Trusted{}, err
	}
	return Trusted{Version: v.ID, Fingerprint: k.Fingerprint, Algorithm: k.Algorithm, PublicKey: pemText, Since: now, key: k}, nil
}
