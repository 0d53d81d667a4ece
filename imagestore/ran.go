package imagestore

import (
	"context"
	"fmt"

	"github.com/containerd/nri/pkg/api"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/containers"
)

// Ran answers what the running container runs, from containerd's record
// (see Runtime.Ran).
func (s *Store) Ran(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	return Runtime{s}.Ran(ctx, pod, ctr)
}

// Ran answers what a running container runs when what was decided at its
// creation is not at hand (it was created before signgate started, or
// forgotten): the image containerd recorded it was created from. Its
// image name annotation is often a tag, which may name another image by
// now; resolved again, it would read as a mismatch and the container as
// untrusted. So the root is the image whose config (the image ID) the
// record names, under the names containerd knows it by in the
// annotation's repository (that repository's policy admitted it), bound to
// the record's layer chain and, on containerd 2.4, agreeing with the
// image NRI reports. Restores and image volumes are as Runs has them:
// neither is named by a tag that moves.
func (r Runtime) Ran(ctx context.Context, _ *api.PodSandbox, ctr *api.Container) containers.Runs {
	out := containers.Runs{RuntimeImage: ctr.GetImage().GetDigest() != ""}
	ann := ctr.GetAnnotations()
	out.Root = r.recorded(ctx, ctr.GetId(), ann[containers.ImageNameAnnotation], ctr.GetImage())
	out.Restore = r.restore(ctx, ann)
	for _, m := range ctr.GetMounts() {
		if img, shows := r.mount(ctx, m); shows {
			out.Mounts = append(out.Mounts, img)
		}
	}
	return out
}

// recorded is the image containerd's record says the container was
// created from, bound as root binds an image being created.
func (r Runtime) recorded(ctx context.Context, id, ref string, rt *api.Image) containers.Image {
	img := containers.Image{Ref: ref}
	c, err := r.Records.CreatedFrom(ctx, id)
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: "cannot read what the running container was created from: " + err.Error()}
		return img
	}
	img.Config, img.Chain = c.Config, c.Chain
	imgs, err := r.Records.Resolve(ctx, c.Config.String())
	if err == nil {
		imgs, err = inRepository(ref, imgs)
	}
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: fmt.Sprintf("cannot name the image (config %s) the running container was created from: %v", c.Config, err)}
		return img
	}
	if rt.GetDigest() != "" {
		if imgs, err = r.agree(ctx, c.Config.String(), imgs, rt, c.Chain, nil); err != nil {
			img.Doubt = &containers.Doubt{Kind: containers.Disagrees, Image: ref, Reason: err.Error()}
			return img
		}
	}
	img.Names = imgs
	r.bind(ctx, &img, nil)
	return img
}

// inRepository keeps the names in ref's repository, or all of them when
// ref is an image ID (it names none).
func inRepository(ref string, imgs []name.Digest) ([]name.Digest, error) {
	if isImageID(ref) {
		return imgs, nil
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q is not a valid reference: %w", ref, err)
	}
	repo, err := name.NewRepository(reference.TrimNamed(named).String())
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	var out []name.Digest
	for _, img := range imgs {
		if img.Context().Name() == repo.Name() {
			out = append(out, img)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("containerd knows it by no name in %s, the repository the container names (%s)", repo.Name(), ref)
	}
	return out, nil
}
