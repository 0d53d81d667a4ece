package verify

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"

	"github.com/signgate/signgate/config"
)

// lookups holds what one verification has read from the registry that
// more than one requirement needs: the image's referrers, listed once for
// its cosign signatures and its attestations alike. It lives only as long
// as the verification, so nothing read is reused beyond it.
type lookups struct {
	once sync.Once
	idx  *v1.IndexManifest
	err  error
	max  int // registry.max_signatures
}

type lookupsKey struct{}

func withLookups(ctx context.Context, maxSignatures int) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{max: maxSignatures})
}

// referrers lists img's referrers, once per verification.
func referrers(ctx context.Context, img name.Digest, opts ...ociremote.Option) (*v1.IndexManifest, error) {
	l, ok := ctx.Value(lookupsKey{}).(*lookups)
	if !ok {
		return ociremote.Referrers(img, "", opts...)
	}
	l.once.Do(func() { l.idx, l.err = ociremote.Referrers(img, "", opts...) })
	return l.idx, l.err
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
