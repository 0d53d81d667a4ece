// Package containers is what signgate asks of a container runtime: what a
// container, or a pod's sandbox, actually runs, established from the
// runtime's own records in one call. The nri package decides on that answer
// alone. containerd's answer is imagestore's; a second runtime (CRI-O,
// through containers/storage) implements the same interface.
package containers

import (
	"context"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// ImageNameAnnotation is where CRI puts the image reference a container was
// created with, as the CRI client gave it: the client's word, never proof
// of what runs.
const ImageNameAnnotation = "io.kubernetes.cri.image-name"

// Runtime answers what runs. Whatever it cannot establish, or finds
// contradicted, it reports as a Doubt, and the container is refused.
type Runtime interface {
	// Runs answers what a container being created (or started, when its
	// creation was not seen) runs: its own image bound to its root
	// filesystem, the checkpoint it is restored from if any, and every
	// image it mounts, bound to the layers mounted.
	Runs(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) Runs
	// Ran answers what a running container runs, as Runs does, but from
	// the runtime's record of what it was created from (the image config
	// and layer chain, and the image the runtime reports), never from its
	// image name resolved again: a tag may have moved since it started.
	Ran(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) Runs
	// Sandbox answers what the pod sandbox's own container runs, bound to
	// its root filesystem.
	Sandbox(ctx context.Context, pod *api.PodSandbox) Image
	// AsCreated checks, once the runtime has recorded the container (at
	// StartContainer), that the record shows it created from img: its
	// image config and its layers. It returns nil, or the doubt.
	AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *Doubt
}

// Runs is what one container runs.
type Runs struct {
	Root    Image    // its own image, bound to its root filesystem
	Restore *Restore // nil unless it is restored from a checkpoint
	// Mounts are the mounts that show an image, in the container's order:
	// each bound to the layers mounted, or doubted (a mount that lies
	// where images live but cannot be bound to one).
	Mounts []Image
	// RuntimeImage: the runtime reported the image itself (NRI's
	// Container.Image) and Root was checked against it.
	RuntimeImage bool
	// FromMemory: Root was answered from what the runtime's events had
	// told, without asking it.
	FromMemory bool
}

// Image is one image a container runs or mounts.
type Image struct {
	// Ref is how the container names it: the reference it was created
	// with, or, for a mount, where it is mounted.
	Ref string
	// Names is the content under each name the runtime knows it by
	// (repository@manifest or index digest), sorted. When Doubt is nil,
	// each is shown to be what runs: a manifest under it has Chain and,
	// when Config is set, Config.
	Names []name.Digest
	// Config is the image config the container was created with, when the
	// runtime says so by then (empty otherwise).
	Config digest.Digest
	// Chain is the layer chain its root filesystem (or the volume) is
	// built on.
	Chain digest.Digest
	// Platforms is, for each digest in Names, the manifest under it whose
	// layers (and Config, when set) run: the platform manifest of an
	// index, or the manifest itself. A digest missing here: which manifest
	// runs is not known, and only its own signatures can count.
	Platforms map[string]digest.Digest
	// Doubt is why what runs could not be established, or is not Names.
	Doubt *Doubt
}

// Restore is the checkpoint a container is restored from: its files and
// process memory come from there, not from Root.
type Restore struct {
	// Mark says how the runtime marks the restore, for the message.
	Mark string
	// Ref names the checkpoint image as the container does: "" when
	// unnamed, a path for an archive on the node.
	Ref string
	// Names is what Ref resolves to when it names an image (not bound:
	// a checkpoint has no layers of its own that run).
	Names []name.Digest
	Doubt *Doubt // why Ref could not be resolved
}

// Kind sorts doubts for the verdict's cause.
type Kind int

const (
	// Unknown: what runs could not be read or established.
	Unknown Kind = iota
	// Disagrees: the runtime's records contradict each other (the image it
	// reports is not the one its image store resolves the name to).
	Disagrees
	// NotBuiltFrom: what runs is shown not to be the image named.
	NotBuiltFrom
)

// Doubt is why what a container runs is not established.
type Doubt struct {
	Kind Kind
	// Name is the image it concerns, when it concerns one name; else
	// Image and Digest say what is known of it.
	Name   *name.Digest
	Image  string
	Digest string
	Reason string // the whole sentence, naming the image, file or key
}

func (d *Doubt) Error() string { return d.Reason }
