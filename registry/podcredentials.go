package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// PodCredentials are the credentials one pod brings beyond the node's: its
// image pull secrets (registry/podsecrets.Pull). A verification for that
// pod reads with them first, then the node's sources.
type PodCredentials interface {
	// Credential is the pod's credential for repo, and its source named
	// for errors; false when the pod has none for it.
	Credential(repo name.Repository) (authn.Authenticator, string, bool)
	// Scope names the credential repo would be read with, "" for none:
	// what a verdict made with it is kept apart by.
	Scope(repo name.Repository) string
	// None says why the pod has no credential for repo.
	None(repo name.Repository) string
}

type podCredentialsKey struct{}

// WithPodCredentials is ctx carrying pc, for the registry reads of one
// pod's verification. nil pc is the node's credentials alone.
func WithPodCredentials(ctx context.Context, pc PodCredentials) context.Context {
	if pc == nil {
		return ctx
	}
	return context.WithValue(ctx, podCredentialsKey{}, pc)
}

func podCredentialsFrom(ctx context.Context) PodCredentials {
	pc, _ := ctx.Value(podCredentialsKey{}).(PodCredentials)
	return pc
}

// sourceKey is what the source of repo's credentials is remembered by:
// the repository, and the pod credential ctx brings for it.
func sourceKey(ctx context.Context, repo name.Repository) string {
	if pc := podCredentialsFrom(ctx); pc != nil {
		if scope := pc.Scope(repo); scope != "" {
			return repo.String() + "\x00" + scope
		}
	}
	return repo.String()
}
