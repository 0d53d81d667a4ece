package crio

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
)

// Runtime is CRI-O's answer to what a container runs. The binding is
// imagestore.Runtime's, over CRI-O's storage records (Store); what differs
// is where the container's image is read: CRI-O writes no CRI image-name
// annotation, so the image is the one its storage container was made
// from, which the spec's io.kubernetes.cri-o.ImageRef annotation must
// name (Store.ContainerImage), and its image volumes are laid out as
// Store.ImageVolumeOf reads them.
type Runtime struct{ Store *Store }

var (
	_ containers.Runtime      = Runtime{}
	_ containers.Runtime      = (*Store)(nil)
	_ imagestore.Records      = (*Store)(nil)
	_ imagestore.VolumeLayout = (*Store)(nil)
)

func (r Runtime) records() imagestore.Runtime { return imagestore.Runtime{Records: r.Store} }

// Runs answers what a container being created runs: the image CRI-O's
// storage made it from, bound to its root filesystem; its image volumes,
// bound to the layers mounted.
func (r Runtime) Runs(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	c, doubt := r.asRecorded(ctx, ctr)
	return withDoubt(r.records().Runs(ctx, pod, c), doubt)
}

// Ran answers what a running container runs, from the same record: CRI-O
// names the image by ID, which no tag moving changes.
func (r Runtime) Ran(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	c, doubt := r.asRecorded(ctx, ctr)
	return withDoubt(r.records().Ran(ctx, pod, c), doubt)
}

// Sandbox answers what the pod's infra container was made from (see
// Store.SandboxImage).
func (r Runtime) Sandbox(ctx context.Context, pod *api.PodSandbox) containers.Image {
	return r.records().Sandbox(ctx, pod)
}

// AsCreated checks CRI-O's record of the container against img.
func (r Runtime) AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *containers.Doubt {
	return r.records().AsCreated(ctx, ctr, img)
}

// asRecorded is ctr as imagestore.Runtime reads a container: named, in
// the CRI image-name annotation, by the image ID CRI-O's storage made it
// from, with that ID as the runtime's word on its config. Whatever the
// spec's annotations claimed under that key is overwritten. When CRI-O's
// record cannot be read or contradicts the spec, the doubt says why.
func (r Runtime) asRecorded(ctx context.Context, ctr *api.Container) (*api.Container, *containers.Doubt) {
	ref, rt, err := r.Store.ContainerImage(ctx, ctr)
	ann := maps.Clone(ctr.GetAnnotations())
	if ann == nil {
		ann = map[string]string{}
	}
	ann[containers.ImageNameAnnotation] = ref
	c := &api.Container{Id: ctr.GetId(), PodSandboxId: ctr.GetPodSandboxId(), Name: ctr.GetName(), Annotations: ann, Mounts: ctr.GetMounts(), Image: rt}
	if err != nil {
		return c, &containers.Doubt{Kind: containers.Unknown, Image: ctr.GetAnnotations()[ImageRefAnnotation], Reason: "cannot determine the image the container runs: " + err.Error()}
	}
	return c, nil
}

// withDoubt puts doubt on the root: the container is refused.
func withDoubt(runs containers.Runs, doubt *containers.Doubt) containers.Runs {
	if doubt != nil {
		runs.Root = containers.Image{Ref: doubt.Image, Doubt: doubt}
	}
	return runs
}

// Runs answers what the container runs (see Runtime.Runs).
func (r *Store) Runs(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	if err := r.Restores.Check(ctx); err != nil {
		return containers.Runs{Root: containers.Image{Ref: ctr.GetName(), Doubt: &containers.Doubt{Image: ctr.GetName(), Reason: err.Error()}}}
	}
	return Runtime{r}.Runs(ctx, pod, ctr)
}

// Ran answers what the running container runs (see Runtime.Ran).
func (r *Store) Ran(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	return Runtime{r}.Ran(ctx, pod, ctr)
}

// Sandbox answers what the pod sandbox runs (see Runtime.Sandbox).
func (r *Store) Sandbox(ctx context.Context, pod *api.PodSandbox) containers.Image {
	return Runtime{r}.Sandbox(ctx, pod)
}

// AsCreated checks CRI-O's record of the container (see Runtime.AsCreated).
func (r *Store) AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *containers.Doubt {
	return Runtime{r}.AsCreated(ctx, ctr, img)
}

// PlatformManifest is the manifest under img whose layers (and config,
// when given) run; "" when none, or more than one, is.
func (r *Store) PlatformManifest(_ context.Context, chain, config digest.Digest, img name.Digest) (digest.Digest, error) {
	ls, err := r.layoutsOf(img)
	if err != nil {
		return "", err
	}
	var found digest.Digest
	for _, l := range ls {
		if l.chain != chain || (config != "" && l.config != config) {
			continue
		}
		if found != "" && found != l.manifest {
			return "", nil
		}
		found = l.manifest
	}
	return found, nil
}

// PulledManifest is the manifest under img the node holds, when it holds
// one only (for pre-verification); "" when several.
func (r *Store) PulledManifest(_ context.Context, img name.Digest) (digest.Digest, error) {
	ls, err := r.layoutsOf(img)
	if err != nil {
		return "", err
	}
	var found digest.Digest
	for _, l := range ls {
		if found != "" && found != l.manifest {
			return "", nil
		}
		found = l.manifest
	}
	return found, nil
}

// layoutsOf is every layout under img's manifest (or index) in the images
// of CRI-O's storage that hold it.
func (r *Store) layoutsOf(img name.Digest) ([]layout, error) {
	d, err := digest.Parse(img.DigestStr())
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img, err)
	}
	imgs, err := r.Storage.images()
	if err != nil {
		return nil, err
	}
	var ls []layout
	for _, si := range imgs {
		for _, md := range si.manifestDigests() {
			if md != d {
				continue
			}
			got, err := r.Storage.layouts(si, d)
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", img, err)
			}
			ls = append(ls, got...)
		}
	}
	return ls, nil
}

// errNoTasks: CRI-O's process state is not in containers/storage, and no
// CRI socket was named to ask it.
var errNoTasks = errors.New("CRI-O: signgate reads only CRI-O's storage, which does not say which containers still run or stop them; set [daemon.runtime] crio_socket to CRI-O's CRI socket")

// RunningTasks asks CRI-O's CRI which containers run, when its socket is
// named; otherwise it cannot tell, and every container NRI reported
// started is judged.
func (r *Store) RunningTasks(ctx context.Context) (map[string]bool, error) {
	if r.CRI != nil {
		return r.CRI.RunningTasks(ctx)
	}
	return nil, errNoTasks
}

// StopTask stops a container through CRI-O's CRI, when its socket is
// named; otherwise on_untrusted_running = "stop" reports the failure, and
// the container is listed untrusted.
func (r *Store) StopTask(ctx context.Context, id string, grace time.Duration) error {
	if r.CRI != nil {
		return r.CRI.StopTask(ctx, id, grace)
	}
	return fmt.Errorf("container %s: %w", id, errNoTasks)
}
