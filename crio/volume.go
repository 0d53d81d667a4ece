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
// image volume as an overlay whose one option is a lowerdir: the image's
// top layer as containers/storage mounts it (<root>/<driver>/<layer
// ID>/merged) over CRI-O's empty image-volumes directory (VolumeDir). Only
// that, exactly as CRI-O writes it, is an image volume, bound to the layer:
// any other lower directory, an upperdir or workdir, or another option
// would show files no signature covers under the signed layer's. Anything
// else containerd's rules judge (imagestore), after the storage-root check,
// which refuses an overlay naming a layer it cannot bind; containerd's
// rules refuse a mount naming an image-volumes directory they cannot bind
// (a CRI-O image volume with a sub path, mounted from CRI-O's run directory).
func (r *Store) ImageVolumeOf(m *api.Mount) (imagestore.ImageVolume, bool, error) {
	if lower, layer, ok := r.imageMount(m); ok {
		dir, err := r.Volumes.Path()
		if err != nil {
			return imagestore.ImageVolume{}, false, fmt.Errorf("the image volume at %s: %w", m.GetDestination(), err)
		}
		if _, below, _ := strings.Cut(lower, ":"); below == dir {
			return imagestore.ImageVolume{Destination: m.GetDestination(), Source: lower, SnapshotKey: layer}, true, nil
		}
	}
	if err := r.inStorageRoot(m); err != nil {
		return imagestore.ImageVolume{}, false, err
	}
	return imagestore.ImageVolumeOf(m)
}

// inStorageRoot refuses any other mount that reaches CRI-O's layers
// (<root>/<driver>/<layer ID>/diff), where every pulled image's files lie,
// signed or not, as containerd's rules refuse its snapshotter directories:
// a bind mount there (a hostPath; CRI-O resolves its symlinks) would let
// a container run an unverified image's programs. The storage root itself
// and its driver directory are refused too; the rest of the root is not
// judged, as CRI-O mounts files from each container's own directory there
// (overlay-containers/<ID>/userdata/.containerenv).
func (r *Store) inStorageRoot(m *api.Mount) error {
	if r.Storage.Root == "" {
		return nil
	}
	root := filepath.Clean(r.Storage.Root)
	if err := r.inRoot(m, root); err != nil {
		return err
	}
	// CRI-O resolves a hostPath's symlinks: under a root reached through
	// one (/var/lib/containers on another disk), it arrives so spelled.
	if resolved, err := filepath.EvalSymlinks(root); err == nil && resolved != root {
		return r.inRoot(m, resolved)
	}
	return nil
}

// inRoot is inStorageRoot for the storage root spelled root.
func (r *Store) inRoot(m *api.Mount, root string) error {
	layers := filepath.Join(root, r.Storage.driver())
	in := func(p string) bool {
		p = path.Clean(p)
		return p == root || p == layers || strings.HasPrefix(p, layers+"/")
	}
	if in(m.GetSource()) {
		return fmt.Errorf("the mount at %s lies in CRI-O's image layers %s, which signgate cannot bind to a verified image", m.GetDestination(), layers)
	}
	for _, o := range m.GetOptions() {
		// As the kernel reads it: escapes, and options joined by commas.
		for _, d := range imagestore.OptionPaths(o) {
			if in(d) {
				return fmt.Errorf("the mount at %s names CRI-O's image layers %s in its option %q, which signgate cannot bind to a verified image", m.GetDestination(), layers, o)
			}
		}
	}
	return nil
}

// imageMount is the lowerdir and layer ID of a mount shaped as CRI-O's
// image volume (server/container_create_linux.go, mountImage): type and
// source overlay, one option, lowerdir=<root>/<driver>/<layer>/merged:<dir>,
// spelled as CRI-O spells it (clean, absolute, nothing the kernel would
// unescape or split). Whether dir is CRI-O's is the caller's to check.
func (r *Store) imageMount(m *api.Mount) (lower, layer string, ok bool) {
	if m.GetType() != "overlay" || m.GetSource() != "overlay" || len(m.GetOptions()) != 1 {
		return "", "", false
	}
	lower, ok = strings.CutPrefix(m.GetOptions()[0], "lowerdir=")
	if !ok || strings.ContainsAny(lower, ",\\=") {
		return "", "", false
	}
	top, below, ok := strings.Cut(lower, ":")
	if !ok || strings.Contains(below, ":") || below != path.Clean(below) || !path.IsAbs(below) || top != path.Clean(top) {
		return "", "", false
	}
	prefix := filepath.Join(r.Storage.Root, r.Storage.driver()) + "/"
	rest, ok := strings.CutPrefix(top, prefix)
	if !ok {
		return "", "", false
	}
	layer, merged, ok := strings.Cut(rest, "/")
	if !ok || merged != "merged" || layer == "" || layer == "." || layer == ".." {
		return "", "", false
	}
	return lower, layer, true
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
