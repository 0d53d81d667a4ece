package verify

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kept is a verified verdict as it outlives the process that made it: the
// binding it rests on (the config, the policy, and the versions of the keys,
// certificates and trust roots the policy trusts), the image it is for and
// when it stops being reused. Only verified verdicts are kept: a denial is
// cheap to make again and must pick up a fixed image.
type Kept struct {
	Binding string `json:"binding"`
	Image   string `json:"image"` // repository@digest, as it was asked
	// Platform is the manifest under Image that runs, as it was asked
	// (Request.Platform); empty when not known.
	Platform string    `json:"platform,omitempty"`
	Expires  time.Time `json:"expires"`
	Verdict  *Verdict  `json:"verdict"`
	// What may renew the verdict once it expires (see renewal): the
	// listings and tags its verification read and what they answered,
	// when an attestation's max_age ends it, and when it was last
	// verified in full. Absent: verified in full once expired.
	Seen       map[string]string `json:"seen,omitempty"`
	Until      time.Time         `json:"until,omitzero"`
	VerifiedAt time.Time         `json:"verified_at,omitzero"`
}

func (k Kept) renewal() *renewal {
	if len(k.Seen) == 0 {
		return nil
	}
	return &renewal{seen: k.Seen, until: k.Until, verifiedAt: k.VerifiedAt}
}

// Kept returns the verified verdicts valid now, sorted by image, and the
// generation of the cache they are from: it changes whenever that set
// does, so a caller writes them only then.
func (e *Engine) Kept() ([]Kept, int64) {
	entries, gen := e.cache.verified(e.opts.Now())
	out := make([]Kept, 0, len(entries))
	for key, en := range entries {
		b, rest, _ := strings.Cut(key, "\x01")
		img, platform, _ := strings.Cut(rest, "\x01")
		if strings.Contains(platform, "\x01") {
			continue // made with a pod's pull secret: that pod's, not kept past this process
		}
		k := Kept{Binding: b, Image: img, Platform: platform, Expires: en.expires, Verdict: en.v}
		if r := en.renew; r != nil {
			k.Seen, k.Until, k.VerifiedAt = r.seen, r.until, r.verifiedAt
		}
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Image != out[j].Image {
			return out[i].Image < out[j].Image
		}
		return out[i].Binding < out[j].Binding
	})
	return out, gen
}

// Restore takes back verdicts kept by an earlier process, or an earlier
// engine, for those the snapshot in force binds exactly as it did when
// they were made. Any other is dropped: a revoked or rotated key, a
// changed trust root or a changed config re-judges at once. A verdict that
// has expired and may not be renewed, or claims to outlive this engine's
// allow_ttl, or is not a verified allow for the digest it is kept under,
// is dropped too. It
// returns how many it took and why each other one was not.
func (e *Engine) Restore(kept []Kept) (int, []error) {
	now := e.opts.Now()
	bound := e.live(now).bindings()
	n := 0
	var errs []error
	for _, k := range kept {
		if err := e.restorable(k, bound, now); err != nil {
			errs = append(errs, fmt.Errorf("kept verdict for %s: %w", k.Image, err))
			continue
		}
		v := *k.Verdict
		v.Cached, v.Pending, v.Took = false, false, 0
		if e.cache.put(k.Binding+"\x01"+k.Image+"\x01"+k.Platform, &v, k.Expires, k.renewal()) {
			n++
		}
	}
	return n, errs
}

// errNotBound is the ordinary reason a kept verdict is dropped: what it
// rested on has changed.
var errNotBound = errors.New("the keys, trust roots or policy it rested on have changed")

func (e *Engine) restorable(k Kept, bound map[string]bool, now time.Time) error {
	if !bound[k.Binding] {
		return errNotBound
	}
	switch {
	case k.VerifiedAt.After(now) || (!k.VerifiedAt.IsZero() && k.VerifiedAt.After(k.Expires)):
		return fmt.Errorf("verified at %s, after now or after it expires", k.VerifiedAt.UTC().Format(time.RFC3339))
	case !now.Before(k.Expires) && !k.renewal().canRenew(now):
		// An expired verdict that may be renewed is taken back expired:
		// the first decision renews it, or verifies in full.
		return fmt.Errorf("expired at %s", k.Expires.UTC().Format(time.RFC3339))
	case k.Expires.After(now.Add(e.opts.AllowTTL)):
		return fmt.Errorf("expires at %s, beyond allow_ttl (%s) from now", k.Expires.UTC().Format(time.RFC3339), e.opts.AllowTTL)
	}
	v := k.Verdict
	if v == nil || !v.Verified || !v.Allowed || v.Cause != CauseVerified || v.Pending {
		return fmt.Errorf("not a verified allow")
	}
	d, err := name.NewDigest(k.Image)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	if d.DigestStr() != v.Digest {
		return fmt.Errorf("its verdict is for %s", v.Digest)
	}
	// A renewal asks where Seen says: only ever the image's own repository,
	// never one whose answers someone else keeps unchanged.
	for where := range k.Seen {
		_, ref, err := seenAt(where)
		if err != nil {
			return fmt.Errorf("renewed by %w", err)
		}
		if ref.Context().String() != d.Context().String() {
			return fmt.Errorf("renewed by %q, in another repository than %s", where, d.Context())
		}
	}
	if k.Platform != "" {
		if _, err := name.NewDigest(d.Context().Name() + "@" + k.Platform); err != nil {
			return fmt.Errorf("platform manifest %q: %w", k.Platform, err)
		}
	}
	// A manifest is its own platform manifest; the verdict names none then.
	if want := k.Platform; want != v.Platform && want != v.Digest {
		return fmt.Errorf("its verdict is for platform manifest %q", v.Platform)
	}
	return nil
}
