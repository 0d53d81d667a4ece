package verify

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
)

// explainer is a registry that can say more of its failures: which
// credential source a 401 answered (registry.Client).
type explainer interface {
	Explain(repo name.Repository, err error) error
}

// contextExplainer tells apart the credentials ctx brings (a pod's pull
// secrets): the source named is the one this verification read with.
type contextExplainer interface {
	ExplainContext(ctx context.Context, repo name.Repository, err error) error
}

// unread is the part for signatures or attestations of img that could not
// be read: a rate limit the deadline could not wait out is its own cause;
// a refusal names the credential source tried. silent: the registry gave
// no HTTP answer at all (registry.AnsweredIn).
func (e *Engine) unread(ctx context.Context, img name.Digest, what string, err error) part {
	if x, ok := e.cosign.Registry.(contextExplainer); ok {
		err = x.ExplainContext(ctx, img.Context(), err)
	} else if x, ok := e.cosign.Registry.(explainer); ok {
		err = x.Explain(img.Context(), err)
	}
	if registry.RateLimited(err) {
		return part{cause: CauseRateLimited, reason: what + Excerpt(err), silent: !registry.AnsweredIn(ctx, err)}
	}
	return part{cause: CauseRegistryError, reason: what + Excerpt(err), silent: !registry.AnsweredIn(ctx, err)}
}
