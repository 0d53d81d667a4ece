package daemon

import (
	"context"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/crio"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/nri"
)

// runtimeStore is what the daemon needs of a runtime's records: what the
// NRI plugin asks about each container, and the image events,
// image list and lifecycle pre-verification and Run use.
type runtimeStore interface {
	nri.Resolver
	Follow(ctx context.Context, onImage func(name string), onError func(err error, retryIn time.Duration))
	Images(ctx context.Context) ([]string, error)
	Close() error
}

// dialRuntime opens the records of the runtime [daemon.runtime] names:
// containerd's API, or CRI-O's containers/storage files.
func dialRuntime(d config.Daemon) (runtimeStore, error) {
	if d.Runtime.Name == config.RuntimeCRIO {
		return &crio.Resolver{Storage: crio.Storage{Root: d.Runtime.CRIOStorageRoot, RunRoot: d.Runtime.CRIOStorageRunRoot, Driver: d.Runtime.CRIOStorageDriver}}, nil
	}
	return imagestore.Dial(d.ContainerdSocket, d.ContainerdNamespace, d.Snapshotters)
}

// readyNote is /readyz's answer when ready; doctor reads the note.
func (d *Daemon) readyNote() string {
	if d.plugin != nil && d.plugin.ValidatorRefused() {
		return "ok; " + doctor.ValidatorRefused
	}
	return "ok"
}
