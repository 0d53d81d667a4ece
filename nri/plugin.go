// Package nri is signgate's containerd NRI plugin: on CreateContainer it
// resolves the image the container will run to its digest, asks the
// verification engine, and fails the creation when the image is not trusted.
package nri

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/verify"
)

// ImageNameAnnotation is where containerd's CRI puts the image reference.
const ImageNameAnnotation = "io.kubernetes.cri.image-name"

// Resolver finds the digest an image reference points to on this node, and
// what a container's root filesystem is built from.
type Resolver interface {
	// Resolve names the content ref points to: one digest for a name, and
	// every name containerd knows an image ID by, sorted.
	Resolve(ctx context.Context, ref string) ([]name.Digest, error)
	// RootFS is the layer chain the container's root filesystem is built on.
	RootFS(ctx context.Context, containerID string) (digest.Digest, error)
	// BuiltFrom checks that img is what runs: a manifest under it has the
	// layer chain and, when config is not empty, that image config.
	BuiltFrom(ctx context.Context, chain, config digest.Digest, img name.Digest) error
	// CreatedFrom is containerd's record of what a created container was
	// built from: the image config and the layer chain. The record exists
	// by StartContainer (and by CreateContainer from containerd 2.4).
	CreatedFrom(ctx context.Context, containerID string) (imagestore.Created, error)
	// VolumeImages names the image a CRI image volume was made from, under
	// every repository containerd knows it by, sorted.
	VolumeImages(ctx context.Context, v imagestore.ImageVolume) ([]name.Digest, error)
	// VolumeLayers is the layer chain actually mounted as the image volume.
	VolumeLayers(ctx context.Context, v imagestore.ImageVolume) (digest.Digest, error)
	// Known answers, from memory only, what a container being created
	// runs: what Resolve(ref) would return, and RootFS(containerID).
	// Either is empty when not known; the names only ever with the chain,
	// and only when as current as containerd's answer would be.
	Known(containerID, ref string) ([]name.Digest, digest.Digest)
	// Sandbox is the image a pod sandbox's own container was created from,
	// and the layer chain its root filesystem is built on.
	Sandbox(ctx context.Context, sandboxID string) (string, digest.Digest, error)
}

// Decider is the verification engine.
type Decider interface {
	Decide(ctx context.Context, req verify.Request) *verify.Verdict
}

// Decision is one CreateContainer's outcome, for the log.
type Decision struct {
	Verdict   *verify.Verdict
	Ref       string // the image reference as the container names it
	Pod       string
	Namespace string
	Container string
	Took      time.Duration
	// RuntimeImage: containerd reported the image itself (NRI's
	// Container.Image, 2.4+) and the decision checked it.
	RuntimeImage bool
	// FromMemory: containerd was not asked what runs; its events had
	// told signgate already (see imagestore.Store.Known).
	FromMemory bool
}

// Recorder receives every decision (journald, metrics, tests).
type Recorder interface {
	Record(Decision)
}

// Plugin implements the NRI handlers signgate subscribes to.
type Plugin struct {
	Resolver Resolver
	Decider  Decider
	Recorder Recorder
	// Deadline bounds each answer (decision_deadline). It must be shorter
	// than containerd's NRI request timeout, or containerd drops the plugin
	// and creates the container: once connected, the plugin learns that
	// timeout and answers within three quarters of it if Deadline is longer.
	Deadline time.Duration
	// Annotate adds the signgate.dev/ annotations to allowed containers.
	Annotate bool
	// AllowCheckpointRestore admits a container restored from a checkpoint
	// image that is itself allowed (see decideRestore); otherwise refused.
	AllowCheckpointRestore bool
	ceiling                atomic.Int64   // from the NRI request timeout, once connected
	admitted               admittedSet    // containers CreateContainer allowed, for the validator
	conn                   atomic.Uint64  // which NRI connection is current; admissions are bound to it
	created                createdSet     // what each created container runs, re-checked at start
	inflight               sync.WaitGroup // requests being answered, for a clean stop
	// runtimeNRI is the runtime's NRI version, once connected.
	runtimeNRI func() string
	// Runtime is the runtime whose records Resolver reads ("containerd",
	// "crio"); another runtime connecting is logged as an error.
	Runtime string
	// fallback: CRI-O builds that refuse the validator (fallback.go).
	fallback validatorFallback
}

func (p *Plugin) record(d Decision) {
	if p.Recorder != nil {
		p.Recorder.Record(d)
	}
}

// DenialMessage is what the CRI client (crictl, the kubelet's event) shows.
func DenialMessage(d Decision) string {
	v := d.Verdict
	img := d.Ref
	if v.Digest != "" {
		img = fmt.Sprintf("%s (%s@%s)", d.Ref, v.Image, v.Digest)
	}
	return fmt.Sprintf("signgate denied image %s: %s", img, v.Reason)
}
