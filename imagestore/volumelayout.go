package imagestore

import (
	"fmt"

	"github.com/containerd/nri/pkg/api"
)

// VolumeLayout is Records for a runtime that mounts image volumes
// otherwise than containerd (CRI-O): it tells how a mount must be judged,
// as ImageVolumeOf does for containerd's layout. Runtime asks it when
// Records has it; the logic that binds a volume is the same.
type VolumeLayout interface {
	ImageVolumeOf(m *api.Mount) (v ImageVolume, ok bool, err error)
}

// ImageVolumeOf tells how a mount must be judged by containerd's layout
// (see imageVolumeOf).
func ImageVolumeOf(m *api.Mount) (ImageVolume, bool, error) {
	return imageVolumeOf(m.GetDestination(), m.GetSource(), m.GetOptions())
}

// volumeOf is the records' own layout, or containerd's, applied to what a
// subPath mount shows.
func (r Runtime) volumeOf(m *api.Mount) (ImageVolume, bool, error) {
	shown, err := throughSubpath(m)
	if err != nil {
		return ImageVolume{}, false, err
	}
	if shown != m {
		v, ok, err := r.layoutOf(shown)
		if err != nil {
			err = fmt.Errorf("the kubelet's subPath mount %s shows %s: %w", m.GetSource(), shown.GetSource(), err)
		}
		return v, ok, err
	}
	return r.layoutOf(m)
}

func (r Runtime) layoutOf(m *api.Mount) (ImageVolume, bool, error) {
	if l, ok := r.Records.(VolumeLayout); ok {
		return l.ImageVolumeOf(m)
	}
	return ImageVolumeOf(m)
}
