package imagestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/containers"
)

// root establishes the container's own image. rt is containerd's record of
// the image (NRI's Container.Image, filled from 2.4; nil before): the
// digest it names must be the one ref resolves to, and the layers bound
// must be that digest's; the config it names is bound too, as every
// runtime's record is at start (AsCreated). fromMemory: containerd was not
// asked, both lookups were answered from its events.
func (r Runtime) root(ctx context.Context, containerID, ref string, rt *api.Image) (img containers.Image, fromMemory bool) {
	img = containers.Image{Ref: ref, Config: digest.Digest(rt.GetConfigDigest())}
	if ref == "" {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Reason: "the container carries no " + containers.ImageNameAnnotation + " annotation, so its image cannot be determined"}
		return img, false
	}
	imgs, chain := r.Records.Known(containerID, ref)
	fromMemory = imgs != nil && chain != ""
	if fromMemory && rt.GetDigest() != "" && !names(imgs, rt.GetDigest()) {
		// The runtime disagrees with what was remembered: the store's
		// own answer decides, as if nothing had been remembered.
		imgs, fromMemory = nil, false
	}
	// What memory did not answer, containerd does: both lookups at once,
	// to keep the NRI lock short.
	var (
		chainErr error
		done     = make(chan struct{})
	)
	if chain == "" {
		go func() {
			defer close(done)
			chain, chainErr = r.Records.RootFS(ctx, containerID)
		}()
	} else {
		close(done)
	}
	var err error
	if imgs == nil {
		imgs, err = r.Records.Resolve(ctx, ref)
	}
	<-done
	img.Chain = chain
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: "cannot determine the digest that will run: " + err.Error()}
		return img, false
	}
	if rt.GetDigest() != "" {
		if imgs, err = r.agree(ctx, ref, imgs, rt, chain, chainErr); err != nil {
			img.Doubt = &containers.Doubt{Kind: containers.Disagrees, Image: ref, Reason: err.Error()}
			return img, false
		}
	}
	img.Names = imgs
	r.bind(ctx, &img, chainErr)
	return img, fromMemory
}

// names reports whether one of imgs has digest d.
func names(imgs []name.Digest, d string) bool {
	for _, img := range imgs {
		if img.DigestStr() == d {
			return true
		}
	}
	return false
}

// agree checks the store's answer against the runtime's own record of
// what the container was created from (NRI's Container.Image), and returns
// the names to decide. When the runtime's digest is one the store resolves
// ref to, those names are kept (all of them, tried in sorted order, so the
// verdict does not depend on which name containerd reports). When they
// name different manifests, that is allowed only if both are the layers
// that run (one image pushed as two manifests, say); otherwise the
// container is refused, naming both. An image ID must also be the
// runtime's config digest.
func (r Runtime) agree(ctx context.Context, ref string, imgs []name.Digest, rt *api.Image, chain digest.Digest, chainErr error) ([]name.Digest, error) {
	said := rt.GetDigest()
	if rt.GetName() != "" {
		said = rt.GetName() + " (" + rt.GetDigest() + ")"
	}
	if cfg := rt.GetConfigDigest(); cfg != "" && isImageID(ref) && ref != cfg {
		return nil, fmt.Errorf("the runtime reports the container's image config as %s, but it was created from image ID %s", cfg, ref)
	}
	var found []string
	var kept []name.Digest
	for _, img := range imgs {
		found = append(found, img.String())
		if img.DigestStr() == rt.GetDigest() {
			kept = append(kept, img)
		}
	}
	if len(kept) > 0 {
		return kept, nil
	}
	disagree := fmt.Errorf("the runtime reports the container's image as %s, but its image store resolves %s to %s", said, ref, strings.Join(found, ", "))
	if chainErr != nil || len(imgs) == 0 {
		return nil, disagree
	}
	repo := imgs[0].Context()
	if n, err := name.ParseReference(rt.GetName()); err == nil {
		repo = n.Context()
	}
	theirs, err := name.NewDigest(repo.Name() + "@" + rt.GetDigest())
	cfg := digest.Digest(rt.GetConfigDigest())
	if err != nil || r.Records.BuiltFrom(ctx, chain, cfg, theirs) != nil {
		return nil, disagree
	}
	for _, img := range imgs {
		if r.Records.BuiltFrom(ctx, chain, cfg, img) != nil {
			return nil, disagree
		}
	}
	return imgs, nil
}
