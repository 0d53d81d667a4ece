package imagestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/containers"
)

// Records are the lookups in containerd's records that what a container
// runs is established from. *Store reads them from containerd; nri's unit
// tests fake them.
type Records interface {
	// Resolve names the content ref points to: one digest for a name, and
	// every name containerd knows an image ID by, sorted.
	Resolve(ctx context.Context, ref string) ([]name.Digest, error)
	// RootFS is the layer chain the container's root filesystem is built on.
	RootFS(ctx context.Context, containerID string) (digest.Digest, error)
	// BuiltFrom checks that img is what runs: a manifest under it has the
	// layer chain and, when config is not empty, that image config.
	BuiltFrom(ctx context.Context, chain, config digest.Digest, img name.Digest) error
	// PlatformManifest is the manifest under img whose layers (and
	// config, when not empty) run: img itself, or one its index names; ""
	// if not known.
	PlatformManifest(ctx context.Context, chain, config digest.Digest, img name.Digest) (digest.Digest, error)
	// CreatedFrom is containerd's record of what a created container was
	// built from (by StartContainer; by CreateContainer from 2.4).
	CreatedFrom(ctx context.Context, containerID string) (Created, error)
	// VolumeImages names the image a CRI image volume was made from, under
	// every repository containerd knows it by, sorted.
	VolumeImages(ctx context.Context, v ImageVolume) ([]name.Digest, error)
	// VolumeLayers is the layer chain actually mounted as the image volume.
	VolumeLayers(ctx context.Context, v ImageVolume) (digest.Digest, error)
	// Known answers from memory only what Resolve(ref) and
	// RootFS(containerID) would; either is empty when not known.
	Known(containerID, ref string) ([]name.Digest, digest.Digest)
	// SandboxImage is the image a pod sandbox's own container was created
	// from, and the layer chain its root filesystem is built on.
	SandboxImage(ctx context.Context, sandboxID string) (string, digest.Digest, error)
}

// Runtime is containerd's answer to what a container runs, established
// from its records.
type Runtime struct{ Records Records }

var (
	_ containers.Runtime = Runtime{}
	_ containers.Runtime = (*Store)(nil)
	_ Records            = (*Store)(nil)
)

// Runs answers what the container runs, from containerd (see Runtime.Runs).
func (s *Store) Runs(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	return Runtime{s}.Runs(ctx, pod, ctr)
}

// Sandbox answers what the pod sandbox runs (see Runtime.Sandbox).
func (s *Store) Sandbox(ctx context.Context, pod *api.PodSandbox) containers.Image {
	return Runtime{s}.Sandbox(ctx, pod)
}

// AsCreated checks containerd's record of the container (see
// Runtime.AsCreated).
func (s *Store) AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *containers.Doubt {
	return Runtime{s}.AsCreated(ctx, ctr, img)
}

// Runs answers what the container runs: the image its CRI image-name
// annotation names, bound to its root filesystem and, on containerd 2.4,
// checked against the image containerd reports; the checkpoint it is
// restored from; each CRI image volume, bound to the layers mounted.
func (r Runtime) Runs(ctx context.Context, _ *api.PodSandbox, ctr *api.Container) containers.Runs {
	out := containers.Runs{RuntimeImage: ctr.GetImage().GetDigest() != ""}
	ann := ctr.GetAnnotations()
	out.Root, out.FromMemory = r.root(ctx, ctr.GetId(), ann[containers.ImageNameAnnotation], ctr.GetImage())
	out.Restore = r.restore(ctx, ann)
	for _, m := range ctr.GetMounts() {
		if img, shows := r.mount(ctx, m); shows {
			out.Mounts = append(out.Mounts, img)
		}
	}
	return out
}

// AsCreated checks containerd's record of the container against img, the
// image decided for its root filesystem: the config it was created with
// must be the config of img's manifest whose layers it runs. A record
// read that contradicts itself (CRI-O's: its layer not on its image's
// top layer) is said to, not called unreadable.
func (r Runtime) AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *containers.Doubt {
	c, err := r.Records.CreatedFrom(ctx, ctr.GetId())
	switch {
	case err == nil:
		err = r.Records.BuiltFrom(ctx, c.Chain, c.Config, img)
	case !errors.Is(err, ErrNotBuiltFrom):
		err = fmt.Errorf("cannot read what it was created from: %w", err)
	}
	if err == nil {
		return nil
	}
	return bindingDoubt(img, err)
}

// bind shows that each of img's names is what runs, once the layer chain
// (and, when img.Config is set, the image config) is shown to be its own:
// the name is the CRI client's word; the root filesystem and the config
// are not. The first name that is not, in sorted order, is the doubt.
// chainErr is why the chain could not be read.
func (r Runtime) bind(ctx context.Context, img *containers.Image, chainErr error) {
	if img.Doubt != nil {
		return
	}
	if len(img.Names) == 0 {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: img.Ref, Reason: fmt.Sprintf("containerd knows %s by no name", img.Ref)}
		return
	}
	for _, n := range img.Names {
		err := chainErr
		if err == nil {
			err = r.Records.BuiltFrom(ctx, img.Chain, img.Config, n)
		}
		if err != nil {
			img.Doubt = bindingDoubt(n, err)
			return
		}
		// Not a doubt when unknown: only the index's signatures count then.
		if m, err := r.Records.PlatformManifest(ctx, img.Chain, img.Config, n); err == nil && m != "" {
			if img.Platforms == nil {
				img.Platforms = map[string]digest.Digest{}
			}
			img.Platforms[n.DigestStr()] = m
		}
	}
}

// bindingDoubt: what runs is shown not to be n, or could not be read
// (refused all the same).
func bindingDoubt(n name.Digest, err error) *containers.Doubt {
	k := containers.Unknown
	if errors.Is(err, ErrNotBuiltFrom) {
		k = containers.NotBuiltFrom
	}
	return &containers.Doubt{Kind: k, Name: &n, Reason: err.Error()}
}
