package daemon

import (
	"context"
	"fmt"
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
		s := &crio.Store{Storage: crio.Storage{Root: d.Runtime.CRIOStorageRoot, RunRoot: d.Runtime.CRIOStorageRunRoot, Driver: d.Runtime.CRIOStorageDriver}}
		if d.Runtime.CRIOSocket != "" {
			s.CRI = &crio.CRI{Socket: d.Runtime.CRIOSocket}
		}
		s.Restores = &crio.RestoreGate{Socket: d.Runtime.CRIOSocket, ConfigFile: d.Runtime.CRIOConfig, ConfigDir: d.Runtime.CRIOConfigDir,
			Unsafe: d.Runtime.CRIOCheckpointRestoreUnsafe}
		s.Volumes = &crio.VolumeDir{Socket: d.Runtime.CRIOSocket, ConfigFile: d.Runtime.CRIOConfig, ConfigDir: d.Runtime.CRIOConfigDir}
		return s, nil
	}
	return imagestore.Dial(d.ContainerdSocket, d.ContainerdNamespace, d.Snapshotters)
}

// openRuntime is the runtime's records, and what to check when NRI's
// Configure names the runtime that connected: under "auto", that choice
// opens them; under a runtime's name, another runtime is refused, naming
// both (signgate would read records that are not the runtime's, and
// refuse every container): signgate does not register, and says so.
func openRuntime(d config.Daemon) (runtimeStore, func(name, version string) error, error) {
	if d.Runtime.Name == config.RuntimeAuto {
		a := newAutoStore(d)
		return a, a.choose, nil
	}
	s, err := dialRuntime(d)
	want := config.NRINames[d.Runtime.Name]
	return s, func(name, version string) error {
		resetRestores(s)
		if name != want {
			return fmt.Errorf("NRI connected signgate to %s %s, but [daemon.runtime] name = %q (%s): signgate reads that runtime's records; set name = %q, or %q", name, version, d.Runtime.Name, want, configName(name), config.RuntimeAuto)
		}
		return nil
	}, err
}

// configName is [daemon.runtime] name for a runtime's NRI name.
func configName(nriName string) string {
	for c, n := range config.NRINames {
		if n == nriName {
			return c
		}
	}
	return nriName
}

// readyNote is /readyz's answer when ready; doctor reads the note.
func (d *Daemon) readyNote() string {
	note := "ok"
	if d.plugin == nil {
		return note
	}
	if r, ok := d.plugin.Peer(); ok {
		note += "; " + doctor.RuntimeNote(r.Name, r.Version)
	}
	if d.plugin.ValidatorRefused() {
		note += "; " + doctor.ValidatorRefused
	}
	return note
}

// resetRestores has CRI-O asked again whether it restores checkpoints, and
// where its image volumes lie: NRI connected again, and CRI-O may have
// restarted with another config.
func resetRestores(s runtimeStore) {
	if c, ok := s.(*crio.Store); ok {
		c.Restores.Reset()
		c.Volumes.Reset()
	}
}
