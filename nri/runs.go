package nri

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/verify"
)

// What a container runs is the runtime's answer (containers.Runtime), in
// one call; the plugin decides on that answer alone. Whatever yields a
// verdict is named decide...: decideContainer (the container and all it
// mounts) calls decideImage (its own image), decideRestore (restore.go)
// and decideMount (volumes.go); a doubt in the answer is a refusal.

// decideContainer decides the container's image, the checkpoint it is
// restored from if any, and each image it mounts as a CRI image volume,
// stopping at the first refusal. It returns the decisions (the last one is
// the outcome) and, when all are allowed, the requests they answered.
func (p *Plugin) decideContainer(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) ([]Decision, []checked) {
	start := time.Now()
	return p.decideRuns(ctx, pod, ctr, p.Runtime.Runs(ctx, pod, ctr), start)
}

// decideRuns is decideContainer on the runtime's answer runs, asked for
// since start.
func (p *Plugin) decideRuns(ctx context.Context, pod *api.PodSandbox, ctr *api.Container, runs containers.Runs, start time.Time) ([]Decision, []checked) {
	d := Decision{Ref: runs.Root.Ref, Pod: pod.GetName(), Namespace: pod.GetNamespace(), Container: ctr.GetName(), ContainerID: ctr.GetId(), RuntimeImage: runs.RuntimeImage, FromMemory: runs.FromMemory}
	var req *verify.Request
	ctx = p.withPodCredentials(ctx, pod)
	d.Verdict, req = p.decideImage(ctx, runs.Root, d.Namespace)
	d.Took = time.Since(start)
	ds := []Decision{d}
	if !d.Verdict.Allowed {
		return ds, nil
	}
	reqs := []checked{{Request: *req, ref: d.Ref}}
	if runs.Restore != nil {
		rd, rreq := p.decideRestore(ctx, d, *runs.Restore)
		ds = append(ds, rd)
		if !rd.Verdict.Allowed {
			return ds, nil
		}
		reqs = append(reqs, *rreq)
	}
	for _, m := range runs.Mounts {
		vd, vreq := p.decideMount(ctx, d, m)
		ds = append(ds, vd)
		if !vd.Verdict.Allowed {
			return ds, nil
		}
		reqs = append(reqs, *vreq)
	}
	return ds, reqs
}

// decideImage decides an image the runtime has shown to be what runs. A
// doubt, or no name at all, is a refusal. One content may be known under
// several names (an image ID, a digest pulled under two repositories):
// each is tried, in the runtime's sorted order, and the first allowed
// wins, so the verdict never depends on which was pulled last.
func (p *Plugin) decideImage(ctx context.Context, img containers.Image, namespace string) (*verify.Verdict, *verify.Request) {
	if img.Doubt != nil {
		return doubted(img.Doubt), nil
	}
	if len(img.Names) == 0 {
		return verify.Deny(img.Ref, "", verify.CauseImageUnknown, fmt.Sprintf("the runtime named no image for %q, so what runs cannot be determined", img.Ref)), nil
	}
	var denied *verify.Verdict
	for _, n := range img.Names {
		req := verify.Request{Image: n, Namespace: namespace, Platform: img.Platforms[n.DigestStr()].String(), Credentials: podCredentialsOf(ctx)}
		v := p.Decider.Decide(ctx, req)
		if v.Allowed {
			return v, &req
		}
		if denied == nil {
			denied = v
		}
	}
	if len(img.Names) > 1 {
		out := *denied
		out.Reason += fmt.Sprintf(" (and no other name of this content is allowed: %d names tried)", len(img.Names))
		return &out, nil
	}
	return denied, nil
}

// doubted is the refusal of what the runtime could not establish.
func doubted(d *containers.Doubt) *verify.Verdict {
	image, dig := d.Image, d.Digest
	if d.Name != nil {
		image, dig = verify.RepoName(d.Name.Context()), d.Name.DigestStr()
	}
	cause := verify.CauseImageUnknown
	switch d.Kind {
	case containers.Disagrees:
		cause = verify.CauseImageMismatch
	case containers.NotBuiltFrom:
		cause = verify.CauseRootFSMismatch
	}
	return verify.Deny(image, dig, cause, d.Reason)
}
