package imagestore

import "github.com/containerd/nri/pkg/api"

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

// volumeOf is the records' own layout, or containerd's.
func (r Runtime) volumeOf(m *api.Mount) (ImageVolume, bool, error) {
	if l, ok := r.Records.(VolumeLayout); ok {
		return l.ImageVolumeOf(m)
	}
	return ImageVolumeOf(m)
}
