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
// which refuses an overlay naming a layer it cannot bind, and the artifact
// stores' (artifacts.go), which refuses an OCI artifact volume; containerd's
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
	if err := r.inArtifactStores(m); err != nil {
		return imagestore.ImageVolume{}, false, err
	}
	return imagestore.ImageVolumeOf(m)
}

// inStorageRoot refuses any other mount that reaches into CRI-O's storage
// root, where every pulled image's layers lie (<root>/<driver>/<layer
// ID>/diff), signed or not, as containerd's rules refuse its snapshotter
// directories: a bind mount there (a hostPath; CRI-O resolves its
// symlinks) would let a container run an unverified image's programs. So
// do the OCI artifacts CRI-O mounts as image volumes (<root>/artifacts,
// artifacts.go), and whatever else the root holds or will hold. Only the
// file CRI-O mounts from there into every container is not judged: the
// pod's .containerenv (<root>/<driver>-containers/<pod sandbox ID>/
// userdata/.containerenv, Sandbox.SetContainerEnvFile); nor is the run root
// when it lies inside the storage root.
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
	for i, p := range mountPaths(m) {
		why, store := r.whyInRoot(path.Clean(p), root)
		switch {
		case why == "":
			continue
		case store != "":
			return artifactRefusal(m, p, store)
		case i == 0:
			return fmt.Errorf("the mount at %s %s", m.GetDestination(), why)
		}
		return fmt.Errorf("the mount at %s names %s in its options: it %s", m.GetDestination(), p, why)
	}
	return nil
}

// whyInRoot says why the clean path p, in the storage root spelled root,
// is refused, and names the artifact store when it lies there; "" when it
// is not in the root, or is a file CRI-O mounts.
func (r *Store) whyInRoot(p, root string) (why, store string) {
	rest, ok := strings.CutPrefix(p, root)
	if !ok || (rest != "" && rest[0] != '/') {
		return "", ""
	}
	rest = strings.TrimPrefix(rest, "/")
	first, _, _ := strings.Cut(rest, "/")
	switch {
	case rest == "":
		return fmt.Sprintf("lies in CRI-O's storage root %s, which holds every pulled image's layers: signgate cannot bind it to a verified image", root), ""
	case first == r.Storage.driver():
		return fmt.Sprintf("lies in CRI-O's image layers %s, which signgate cannot bind to a verified image", filepath.Join(root, first)), ""
	case first == artifactsDir:
		return "lies in CRI-O's OCI artifact store", filepath.Join(root, first)
	case r.containerEnv(rest):
		return "", ""
	}
	if run := filepath.Clean(r.Storage.RunRoot); r.Storage.RunRoot != "" && strings.HasPrefix(run, root+"/") && strings.HasPrefix(p, run+"/") {
		return "", "" // the run root, inside the storage root: not judged
	}
	return fmt.Sprintf("lies in CRI-O's storage root %s, from which CRI-O mounts only a pod's .containerenv: signgate cannot tell what it shows", root), ""
}

// containerEnv: rest, a path in the storage root, is a pod's
// .containerenv, as CRI-O spells it: <driver>-containers/<ID>/userdata/
// .containerenv.
func (r *Store) containerEnv(rest string) bool {
	parts := strings.Split(rest, "/")
	return len(parts) == 4 && parts[0] == r.Storage.driver()+"-containers" && parts[1] != "" && parts[1] != "." && parts[1] != ".." &&
		parts[2] == "userdata" && parts[3] == ".containerenv"
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
