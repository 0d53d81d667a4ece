package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"

	"github.com/signgate/signgate/registry"
)

// MaxRenewedAge is how long after its last verification in full a
// verdict may still be renewed: at least this often, every verified
// image is read and checked whole again.
const MaxRenewedAge = 24 * time.Hour

// renewal is what lets an allowed verdict be renewed when it expires,
// instead of verified again in full (issue 30): the listings and tags its
// verification read (see evidence), when an attestation's max_age ends
// it (zero for never), and when it was last verified in full.
//
// Renewing takes the registry's word, asked again, that the signature
// objects are the ones verified; what does not live in the registry is
// bound elsewhere: the policy, the key and certificate versions and the
// trust roots' content and staleness are in the cache key (Snapshot.
// binding), so a revoked, rotated or expired key or a stale trust root
// finds no verdict to renew. Keyless certificates are checked at the
// signing time their log entry or timestamp proves, not now, so time
// does not change that verdict; a notation verdict (expiry and
// revocation of certificates judged now) is never renewable.
type renewal struct {
	seen       map[string]string
	until      time.Time
	verifiedAt time.Time
}

// canRenew says whether a verdict resting on r may be renewed at now.
func (r *renewal) canRenew(now time.Time) bool {
	// A verifiedAt in the future (a clock stepped back) has no day of
	// renewals begun: verify in full.
	return r != nil && len(r.seen) > 0 && !r.verifiedAt.After(now) && now.Before(r.verifiedAt.Add(MaxRenewedAge)) && (r.until.IsZero() || now.Before(r.until))
}

// renewed is an expired verdict and what may renew it.
type renewed struct {
	v *Verdict
	r *renewal
}

// renew asks the registry again for the listings and tags old's
// verification read: when each answers as it did, the verdict is kept for
// another allow_ttl (never past an attestation's max_age, nor past
// MaxRenewedAge after its last full verification); otherwise, or
// when the registry cannot say, the image is verified in full.
func (e *Engine) renew(c *call, key string, snap *Snapshot, p *Policy, req Request, base Verdict, old renewed) {
	if !e.tryRenew(c, key, req, base, old) {
		e.run(c, key, snap, p, req, base)
	}
}

// tryRenew renews old when the registry answers as it did, and says
// whether it did. It counts in InFlight (a renewal waits on the registry
// as a verification does) until it returns, so a verification in full
// after it is not counted twice.
func (e *Engine) tryRenew(c *call, key string, req Request, base Verdict, old renewed) bool {
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	start := time.Now() // for Took only
	// The pod's credentials, as run reads with them: without, a private
	// registry refuses the renewal and every allow_ttl costs a full
	// verification.
	ctx, cancel := context.WithTimeout(registry.WithPodCredentials(context.Background(), req.Credentials), e.opts.VerifyTimeout)
	defer cancel()
	if err := e.unchanged(ctx, old.r.seen); err != nil {
		return false
	}
	now := e.opts.Now()
	if !old.r.canRenew(now) {
		return false
	}
	e.Renewals.Add(1)
	v := *old.v
	v.Snapshot, v.Cached, v.Renewed = base.Snapshot, false, true
	expires := now.Add(e.opts.AllowTTL)
	if u := old.r.until; !u.IsZero() && u.Before(expires) {
		expires = u
	}
	// Never past a day after the last full verification.
	if last := old.r.verifiedAt.Add(MaxRenewedAge); last.Before(expires) {
		expires = last
	}
	v.Took = time.Since(start)
	e.cache.finish(key, c, &v, old.v, expires, now, old.r)
	if e.opts.Observe != nil {
		e.opts.Observe(&v)
	}
	return true
}

// errChanged: a listing or tag no longer answers as it did.
var errChanged = errors.New("the signature objects changed")

// unchanged reads each listing and tag in seen again, at once, and says
// whether every one answers as it did.
func (e *Engine) unchanged(ctx context.Context, seen map[string]string) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for where, want := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := e.lookAgain(ctx, where)
			if err == nil && got != want {
				err = fmt.Errorf("%s: %w (%s, was %s)", where, errChanged, got, want)
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// lookAgain reads one listing (GET, as a verification does), tag or bundle
// manifest (HEAD: its digest, or that it is gone, is all that is needed)
// and returns its fingerprint.
func (e *Engine) lookAgain(ctx context.Context, where string) (string, error) {
	kind, ref, err := seenAt(where)
	if err != nil {
		return "", err
	}
	ropts, err := e.cosign.Registry.Options(ctx, ref.Context())
	if err != nil {
		return "", err
	}
	if kind == seenReferrers {
		idx, err := ociremote.Referrers(ref.(name.Digest), "", ociremote.WithRemoteOptions(ropts...))
		if err != nil {
			return "", err
		}
		return listingFingerprint(idx), nil
	}
	desc, err := remote.Head(ref, ropts...)
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusNotFound {
		return tagAbsent, nil
	}
	if err != nil {
		return "", err
	}
	return desc.Digest.String(), nil
}
