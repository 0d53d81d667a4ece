package nri

import (
	"context"
	"time"

	"github.com/signgate/signgate/containers"
)

// decideMount decides one of the container's mounts that shows an image
// (the runtime has bound it to the layers mounted, or doubted it) under the
// policy that governs its image. base is the container's own decision,
// whose pod and names the volume's shares.
func (p *Plugin) decideMount(ctx context.Context, base Decision, m containers.Image) (Decision, *checked) {
	start := time.Now()
	d := base
	d.RuntimeImage = false // the runtime reports only the root filesystem's image
	d.FromMemory = false
	v, req := p.decideImage(ctx, m, base.Namespace)
	if !v.Allowed && m.Doubt == nil {
		out := *v
		out.Reason = "mounted as " + m.Ref + ": " + out.Reason
		v = &out
	}
	d.Verdict, d.Ref, d.Took = v, v.Image, time.Since(start)
	if !v.Allowed {
		return d, nil
	}
	return d, &checked{Request: *req, ref: d.Ref}
}
