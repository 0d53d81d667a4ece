package nri

import (
	"context"
	"strconv"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/verify"
)

// decideMount decides one of the container's mounts when it shows an image:
// a CRI image volume is bound to the layers actually mounted and decided
// under the policy that governs its image; a mount that lies where image
// volumes or snapshots live but cannot be bound to one is refused. decided
// is false for any other mount, which signgate does not decide. base is the
// container's own decision, whose pod and names the volume's shares.
func (p *Plugin) decideMount(ctx context.Context, base Decision, m *api.Mount) (d Decision, req *checked, decided bool) {
	v, ok, err := p.imageVolumeOf(m)
	if !ok && err == nil {
		return Decision{}, nil, false
	}
	start := time.Now()
	d = base
	d.RuntimeImage = false // the runtime reports only the root filesystem's image
	d.FromMemory = false
	if err != nil {
		d.Ref = strconv.Quote(m.GetSource()) // the error says where it is mounted
		d.Verdict = verify.Deny(d.Ref, "", verify.CauseImageUnknown, err.Error())
		d.Took = time.Since(start)
		return d, nil, true
	}
	var vreq *verify.Request
	d.Ref, d.Verdict, vreq = p.decideVolume(ctx, v, base.Namespace)
	d.Took = time.Since(start)
	if !d.Verdict.Allowed {
		return d, nil, true
	}
	return d, &checked{Request: *vreq, ref: d.Ref}, true
}

// decideVolume decides an image volume the way a root filesystem is
// decided: bound to the layers actually mounted, under the policy that
// governs the image.
func (p *Plugin) decideVolume(ctx context.Context, v imagestore.ImageVolume, namespace string) (string, *verify.Verdict, *verify.Request) {
	where := "the image volume at " + v.Destination
	imgs, err := p.Resolver.VolumeImages(ctx, v)
	if err != nil {
		return where, verify.Deny(where, v.Target.String(), verify.CauseImageUnknown, "cannot determine the image mounted: "+err.Error()), nil
	}
	chain, err := p.Resolver.VolumeLayers(ctx, v)
	vd, req := p.decideBound(ctx, imgs, chain, "", err, namespace)
	if vd.Allowed {
		return vd.Image, vd, req
	}
	out := *vd
	out.Reason = "mounted as " + where + ": " + out.Reason
	return out.Image, &out, nil
}
