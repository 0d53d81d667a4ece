package verify

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
)

// lookups holds what one verification has read from the registry that
// more than one requirement needs: the image's referrers, listed once for
// its cosign signatures and its attestations alike. It lives only as long
// as the verification, so nothing read is reused beyond it.
type lookups struct {
	once sync.Once
	idx  *v1.IndexManifest
	err  error
}

type lookupsKey struct{}

func withLookups(ctx context.Context) context.Context {
	return context.WithValue(ctx, lookupsKey{}, &lookups{})
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
