package nri

import (
	"context"
	"log/slog"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/imagestore"
)

// ContainerImager is a Resolver for a runtime that records a container's
// image elsewhere than containerd's CRI annotation (CRI-O: its storage's
// container record, and the io.kubernetes.cri-o.ImageRef annotation). It
// names the reference to resolve and the runtime's record of the image.
type ContainerImager interface {
	ContainerImage(ctx context.Context, ctr *api.Container) (ref string, rt *api.Image, err error)
}

// imageOf is the reference the container names its image by and the
// runtime's own record of that image (nil when it keeps none).
func (p *Plugin) imageOf(ctx context.Context, ctr *api.Container) (string, *api.Image, error) {
	if ci, ok := p.Resolver.(ContainerImager); ok {
		return ci.ContainerImage(ctx, ctr)
	}
	return ctr.GetAnnotations()[ImageNameAnnotation], ctr.GetImage(), nil
}

// checkRuntime says loudly when the runtime that connected is not the one
// whose records signgate reads: every container is refused then, as its
// image cannot be found.
func (p *Plugin) checkRuntime(runtime string) {
	want := map[string]string{"containerd": "containerd", "crio": criOName}[p.Runtime]
	if want != "" && runtime != want {
		slog.Error("the runtime connected over NRI is not the one signgate reads the records of ([daemon.runtime] name): every container will be refused", "connected", runtime, "configured", p.Runtime)
	}
}

// VolumeFinder is a Resolver for a runtime that lays out image volumes
// otherwise than containerd (CRI-O): it tells how a mount must be judged,
// as imagestore.ImageVolumeOf does for containerd.
type VolumeFinder interface {
	ImageVolumeOf(m *api.Mount) (v imagestore.ImageVolume, ok bool, err error)
}

// imageVolumeOf is the runtime's VolumeFinder, or containerd's layout.
func (p *Plugin) imageVolumeOf(m *api.Mount) (imagestore.ImageVolume, bool, error) {
	if vf, ok := p.Resolver.(VolumeFinder); ok {
		return vf.ImageVolumeOf(m)
	}
	return imagestore.ImageVolumeOf(m.GetDestination(), m.GetSource(), m.GetOptions())
}
