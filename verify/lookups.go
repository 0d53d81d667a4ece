package verify

import (
	"context"
	"slices"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
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

func withLookups(ctx context.Context, shared bool) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{shared: shared})
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
