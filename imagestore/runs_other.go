package imagestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
)

// containerd's CRI (2.2 and 2.3; 2.4 removed it) restores a checkpoint when
// CreateContainer names a checkpoint archive on the node or an image
// carrying org.criu.checkpoint.container.name. It creates the container on
// the base image named inside the checkpoint, the only image NRI is told
// about, then unpacks the checkpoint's rootfs-diff.tar over the root
// filesystem and has CRIU restore process memory; StartContainer is not
// called. CRImportCheckpoint marks such a container with these
// annotations, after merging the checkpoint's own, so they cannot be
// forged away; checkpointImage is the CRI client's user_specified_image,
// which may be empty.
const (
	RestoredAnnotation        = "restored"
	CheckpointImageAnnotation = "checkpointImage"
)

// restore is the checkpoint the container is restored from, resolved when
// it names an image; nil for any other container.
func (r Runtime) restore(ctx context.Context, ann map[string]string) *containers.Restore {
	flag, restored := ann[RestoredAnnotation]
	if !restored {
		return nil
	}
	ckpt := ann[CheckpointImageAnnotation]
	out := &containers.Restore{Ref: ckpt, Mark: fmt.Sprintf("annotation %s=%q, %s=%q", RestoredAnnotation, flag, CheckpointImageAnnotation, ckpt)}
	if ckpt == "" || strings.HasPrefix(ckpt, "/") {
		return out // an archive on the node: no image to resolve
	}
	imgs, err := r.Records.Resolve(ctx, ckpt)
	if err != nil {
		out.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ckpt, Reason: "cannot determine the checkpoint image: " + err.Error()}
	}
	out.Names = imgs
	return out
}

// mount establishes what one of the container's mounts shows when it shows
// an image: a CRI image volume bound to the layers actually mounted; a
// mount that lies where image volumes or snapshots live but cannot be bound
// to one is doubted. shows is false for any other mount.
func (r Runtime) mount(ctx context.Context, m *api.Mount) (img containers.Image, shows bool) {
	v, ok, err := r.volumeOf(m)
	if !ok && err == nil {
		return containers.Image{}, false
	}
	if err != nil {
		ref := strconv.Quote(m.GetSource()) // the error says where it is mounted
		return containers.Image{Ref: ref, Doubt: &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: err.Error()}}, true
	}
	where := "the image volume at " + v.Destination
	img = containers.Image{Ref: where}
	imgs, err := r.Records.VolumeImages(ctx, v)
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: where, Digest: v.Target.String(), Reason: "cannot determine the image mounted: " + err.Error()}
		return img, true
	}
	img.Names = imgs
	chain, err := r.Records.VolumeLayers(ctx, v)
	img.Chain = chain
	r.bind(ctx, &img, err)
	if img.Doubt != nil {
		img.Doubt.Reason = "mounted as " + where + ": " + img.Doubt.Reason
	}
	return img, true
}

// Sandbox establishes the pod sandbox's image from its own container's
// record, bound to that container's root filesystem.
func (r Runtime) Sandbox(ctx context.Context, pod *api.PodSandbox) containers.Image {
	ref, chain, err := r.Records.SandboxImage(ctx, pod.GetId())
	img := containers.Image{Ref: ref, Chain: chain}
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: "cannot determine the pod sandbox image: " + err.Error()}
		return img
	}
	imgs, err := r.Records.Resolve(ctx, ref)
	if err != nil {
		img.Doubt = &containers.Doubt{Kind: containers.Unknown, Image: ref, Reason: "cannot determine the digest that will run: " + err.Error()}
		return img
	}
	img.Names = imgs
	r.bind(ctx, &img, nil)
	return img
}
