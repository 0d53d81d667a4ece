package verify

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"

	"github.com/signgate/signgate/config"
)

// lookups holds what one verification has read from the registry that
// more than one requirement needs: the image's referrers, listed once for
// its cosign signatures and its attestations alike. It lives only as long
// as the verification, so nothing read is reused beyond it.
type lookups struct {
	// shared: another kind than notation lists the referrers too, so
	// notation takes its signatures from the same listing.
	shared bool

	once sync.Once
	idx  *v1.IndexManifest
	err  error
	max  int // registry.max_signatures

	mu      sync.Mutex
	bundles map[string]*bundleRead // by referrer digest
}

// bundleRead is one referrer read as a Sigstore bundle, once per
// verification: the signatures and the attestations look at every bundle
// referrer, each to keep its own kind.
type bundleRead struct {
	once sync.Once
	b    *sgbundle.Bundle
	err  error
}

type lookupsKey struct{}

func withLookups(ctx context.Context, shared bool, maxSignatures int) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{shared: shared, max: maxSignatures})
}

// listingShared says whether notation lists signatures through the
// verification's listing (see sharedListing): only when another kind
// lists them too, as a listing through go-containerregistry begins with
// a handshake notation's own client does not need.
func listingShared(ctx context.Context) bool {
	l, ok := ctx.Value(lookupsKey{}).(*lookups)
	return ok && l.shared
}

// referrers lists img's referrers, once per verification.
func referrers(ctx context.Context, img name.Digest, opts ...ociremote.Option) (*v1.IndexManifest, error) {
	l, ok := ctx.Value(lookupsKey{}).(*lookups)
	if !ok {
		l = &lookups{}
	}
	l.once.Do(func() {
		if l.idx, l.err = ociremote.Referrers(img, "", opts...); l.err == nil {
			note(ctx, seenReferrers+img.String(), listingFingerprint(l.idx))
		}
	})
	return l.idx, l.err
}

// bundle reads the referrer ref as a Sigstore bundle, once per
// verification.
func bundle(ctx context.Context, ref name.Digest, ropts []remote.Option) (*sgbundle.Bundle, error) {
	ropts = append(slices.Clip(ropts), remote.WithContext(ctx))
	l, ok := ctx.Value(lookupsKey{}).(*lookups)
	if !ok {
		b, err := fetchBundle(ref, ropts)
		if err == nil {
			note(ctx, seenManifest+ref.String(), ref.DigestStr())
		}
		return b, err
	}
	l.mu.Lock()
	if l.bundles == nil {
		l.bundles = map[string]*bundleRead{}
	}
	r := l.bundles[ref.String()]
	if r == nil {
		r = &bundleRead{}
		l.bundles[ref.String()] = r
	}
	l.mu.Unlock()
	r.once.Do(func() {
		if r.b, r.err = fetchBundle(ref, ropts); r.err == nil {
			note(ctx, seenManifest+ref.String(), ref.DigestStr())
		}
	})
	return r.b, r.err
}

// tooMany refuses, before any is fetched, a listing of img that would have
// the verification fetch n signature objects (what names them) when the
// cap is fewer: a repository holding thousands would otherwise cost a
// request, memory and decision time each.
func tooMany(ctx context.Context, img name.Digest, what string, n int) error {
	limit := config.DefaultMaxSignatures
	if l, ok := ctx.Value(lookupsKey{}).(*lookups); ok && l.max > 0 {
		limit = l.max
	}
	if n <= limit {
		return nil
	}
	return &TooManySignaturesError{Image: img.String(), What: what, N: n, Max: limit}
}

// TooManySignaturesError: a listing held more signature objects than one
// verification fetches. The image is denied, not judged on some of them:
// the order of a listing is the registry's, so which N would count is not
// the signer's choice, and every_signature cannot judge a part.
type TooManySignaturesError struct {
	Image, What string
	N, Max      int
}

func (e *TooManySignaturesError) Error() string {
	return fmt.Sprintf("image %s has %d %s, more than one verification fetches (registry.max_signatures = %d); denied rather than judged on some of them: prune them, or raise the cap", e.Image, e.N, e.What, e.Max)
}
