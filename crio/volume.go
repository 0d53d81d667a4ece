package crio

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/imagestore"
)

// ImageVolumeOf tells how a mount must be judged on CRI-O. CRI-O mounts an
// image volume as an overlay whose lowerdir is the image's top layer as
// containers/storage mounts it (<root>/<driver>/<layer ID>/merged) over
// CRI-O's empty image-volumes directory: that is an image volume, bound to
// the layer. Anything else containerd's rules judge (imagestore), which
// refuse a mount naming an image-volumes directory they cannot bind (a
// CRI-O image volume with a sub path, mounted from CRI-O's run directory).
func (r *Store) ImageVolumeOf(m *api.Mount) (imagestore.ImageVolume, bool, error) {
	if m.GetType() == "overlay" {
		var lower []string
		for _, o := range m.GetOptions() {
			if l, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lower = append(lower, l)
			}
		}
		if len(lower) == 1 {
			if layer, ok := r.imageMount(lower[0]); ok {
				return imagestore.ImageVolume{Destination: m.GetDestination(), Source: lower[0], SnapshotKey: layer}, true, nil
			}
		}
	}
	return imagestore.ImageVolumeOf(m)
}

// imageMount is the layer ID of a lowerdir that is exactly a layer's
// mount under CRI-O's storage, over an image-volumes directory.
func (r *Store) imageMount(lowerdir string) (string, bool) {
	top, below, ok := strings.Cut(lowerdir, ":")
	if !ok || strings.Contains(below, ":") || filepath.Base(below) != "image-volumes" || strings.Contains(lowerdir, "..") {
		return "", false
	}
	prefix := filepath.Join(r.Storage.Root, r.Storage.driver()) + "/"
	rest, ok := strings.CutPrefix(path.Clean(top), prefix)
	if !ok {
		return "", false
	}
	layer, merged, ok := strings.Cut(rest, "/")
	if !ok || merged != "merged" || layer == "" {
		return "", false
	}
	return layer, true
}

// VolumeImages names the images whose top layer is the one mounted, under
// every repository CRI-O knows each by.
func (r *Store) VolumeImages(_ context.Context, v imagestore.ImageVolume) ([]name.Digest, error) {
	imgs, err := r.Storage.images()
	if err != nil {
		return nil, err
	}
	var out []name.Digest
	for _, img := range imgs {
		if img.TopLayer != v.SnapshotKey {
			continue
		}
		ns, err := r.names(img, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image in CRI-O's storage has layer %s on top", v.SnapshotKey)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// VolumeLayers is the layer chain of the layer mounted.
func (r *Store) VolumeLayers(_ context.Context, v imagestore.ImageVolume) (digest.Digest, error) {
	layers, err := r.Storage.layers()
	if err != nil {
		return "", err
	}
	return chainOf(layers, v.SnapshotKey)
}
