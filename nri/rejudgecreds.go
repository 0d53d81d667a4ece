package nri

import (
	"context"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// A running container is judged again with its own pod's credentials, as
// it was admitted: judged with the node's, an image only the pod's pull
// secret can read is a 401, registry_error, which stops nothing, so a
// revoked image would run on. They are looked up again (the same lookup,
// with its caches and RBAC, PodCredentials makes at creation): a secret
// rotated since admission holds a password the registry no longer takes.
// Where the lookup gives no credential for the registry (the API server
// cannot be read past the stale-secret bound, the secret deleted or its
// entry gone), the credential the container was admitted with is used:
// it is that pod's own, and a credential only reads signatures, never
// makes one trusted, so reading with it can catch a revocation but never
// keep an untrusted image running. The registry refusing now's (a secret
// rotated to a password it does not take) asks the admission's too
// (orAdmitted). Neither: the node's, and a 401 is
// registry_error, reported and judged again, never a stop: it is the
// registry answering (verify.Verdict.Answered), so it does not count
// toward stop_unanswered_after either, which counts only silence.

// lookAgain is pod's credentials as PodCredentials reads them now, nil
// when pull secrets are off.
func (p *Plugin) lookAgain(ctx context.Context, pod *api.PodSandbox) registry.PodCredentials {
	if p.PodCredentials == nil {
		return nil
	}
	return p.PodCredentials(ctx, pod)
}

// rejudging is the credentials a running container is judged again with:
// now's (looked up again) for each registry they have one for, else
// admitted's (the container's admission's), else now's for why none.
func rejudging(now, admitted registry.PodCredentials) registry.PodCredentials {
	switch {
	case now == nil:
		return admitted
	case admitted == nil:
		return now
	}
	return rejudgeCredentials{now: now, admitted: admitted}
}

type rejudgeCredentials struct{ now, admitted registry.PodCredentials }

func (c rejudgeCredentials) pick(repo name.Repository) registry.PodCredentials {
	if _, _, ok := c.now.Credential(repo); ok {
		return c.now
	}
	if _, _, ok := c.admitted.Credential(repo); ok {
		return c.admitted
	}
	return c.now
}

func (c rejudgeCredentials) Credential(repo name.Repository) (authn.Authenticator, string, bool) {
	return c.pick(repo).Credential(repo)
}

func (c rejudgeCredentials) Scope(repo name.Repository) string { return c.pick(repo).Scope(repo) }

func (c rejudgeCredentials) None(repo name.Repository) string { return c.now.None(repo) }

// orAdmitted is v, decided with now's credentials (rejudging), or,
// when the registry refused to answer them (registry_error: a 401 to a
// secret rotated to a password it does not take), the verdict decide
// gives with the admission's, if that one is allowed or final: whoever
// can write the pod's secret must not hide a revocation the admission's
// credential still reads. Otherwise v: not final, as before. When both
// pick the same credential the verdict cache answers the second ask.
func orAdmitted(v *verify.Verdict, now, admitted registry.PodCredentials, decide func(registry.PodCredentials) *verify.Verdict) *verify.Verdict {
	if v == nil || v.Allowed || v.Cause != verify.CauseRegistryError || now == nil || admitted == nil {
		return v
	}
	if w := decide(admitted); w != nil && (w.Allowed || w.Cause.Final()) {
		return w
	}
	return v
}

// withCredentials is ctx carrying pc for decideImage's requests.
func withCredentials(ctx context.Context, pc registry.PodCredentials) context.Context {
	if pc == nil {
		return ctx
	}
	return context.WithValue(ctx, podCredentialsKey{}, pc)
}
