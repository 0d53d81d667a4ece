package daemon

import (
	"context"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/crio"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/imagestore"
)

// runtimeStore is what the daemon needs of a runtime: its answer to what
// a container runs (containers.Runtime, all the NRI plugin decides on),
// and the image events, image list and lookups pre-verification uses, the
// running containers' tasks, and Close.
type runtimeStore interface {
	containers.Runtime
	containerTasks
	Follow(ctx context.Context, onImage func(name string), onError func(err error, retryIn time.Duration))
	Images(ctx context.Context) ([]string, error)
	Resolve(ctx context.Context, ref string) ([]name.Digest, error)
	PulledManifest(ctx context.Context, img name.Digest) (digest.Digest, error)
	Close() error
}

var (
	_ runtimeStore = (*imagestore.Store)(nil)
	_ runtimeStore = (*crio.Store)(nil)
)

// dialRuntime opens the records of the runtime [daemon.runtime] names:
// containerd's API, or CRI-O's containers/storage files.
func dialRuntime(d config.Daemon) (runtimeStore, error) {
	if d.Runtime.Name == config.RuntimeCRIO {
		return &crio.Store{Storage: crio.Storage{Root: d.Runtime.CRIOStorageRoot, RunRoot: d.Runtime.CRIOStorageRunRoot, Driver: d.Runtime.CRIOStorageDriver}}, nil
	}
	return imagestore.Dial(d.ContainerdSocket, d.ContainerdNamespace, d.Snapshotters)
}

// nriName is how the configured runtime names itself over NRI.
func nriName(r config.Runtime) string {
	if r.Name == config.RuntimeCRIO {
		return "cri-o"
	}
	return "containerd"
}

// readyNote is /readyz's answer when ready; doctor reads the note.
func (d *Daemon) readyNote() string {
	if d.plugin != nil && d.plugin.ValidatorRefused() {
		return "ok; " + doctor.ValidatorRefused
	}
	return "ok"
}
