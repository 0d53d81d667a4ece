package nri

import (
	"context"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/registry"
)

// PodCredentials gives a pod's own registry credentials (its pull
// secrets, registry/podsecrets), or nil for the node's alone. It never
// fails a decision itself: a pod whose secrets cannot be read is verified
// with the node's credentials, and a registry that wants the pod's then
// denies, the denial naming why the pod's were not there.
type PodCredentials func(ctx context.Context, pod *api.PodSandbox) registry.PodCredentials

type podCredentialsKey struct{}

// withPodCredentials is ctx carrying pod's credentials for the requests
// decideImage and decideRestore make.
func (p *Plugin) withPodCredentials(ctx context.Context, pod *api.PodSandbox) context.Context {
	if p.PodCredentials == nil {
		return ctx
	}
	return withCredentials(ctx, p.PodCredentials(ctx, pod))
}

func podCredentialsOf(ctx context.Context) registry.PodCredentials {
	pc, _ := ctx.Value(podCredentialsKey{}).(registry.PodCredentials)
	return pc
}
