package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/containers"
	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/nri"
)

// autoStore is the runtime's records under [daemon.runtime] name = "auto":
// none until NRI's Configure names the runtime that connected signgate,
// then containerd's API or CRI-O's storage, for good. Until then every
// answer is a doubt, so nothing is admitted on a guess (NRI sends no
// container before Configure anyway).
type autoStore struct {
	daemon config.Daemon
	dial   func(config.Daemon) (runtimeStore, error)

	mu     sync.Mutex
	name   string // the NRI name chosen ("containerd", "cri-o")
	inner  runtimeStore
	chosen chan struct{} // closed once inner is set
}

var _ runtimeStore = (*autoStore)(nil)

func newAutoStore(d config.Daemon) *autoStore {
	return &autoStore{daemon: d, dial: dialRuntime, chosen: make(chan struct{})}
}

// choose opens the records of the runtime NRI named. A later connection
// from another runtime is refused: signgate reads one runtime's records
// for its life, and the decisions cached and containers remembered are
// that runtime's.
func (a *autoStore) choose(nriName, version string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inner != nil {
		if nriName != a.name {
			return fmt.Errorf("NRI connected signgate to %s %s, but signgate reads %s's records since it connected first ([daemon.runtime] name = %q): restart signgate", nriName, version, a.name, config.RuntimeAuto)
		}
		resetRestores(a.inner)
		return nil
	}
	d := a.daemon
	switch nriName {
	case config.NRINames[config.RuntimeContainerd]:
		d.Runtime.Name = config.RuntimeContainerd
	case config.NRINames[config.RuntimeCRIO]:
		d.Runtime.Name = config.RuntimeCRIO
	default:
		return fmt.Errorf("NRI connected signgate to %q %s: [daemon.runtime] name = %q knows containerd and cri-o only", nriName, version, config.RuntimeAuto)
	}
	s, err := a.dial(d)
	if err != nil {
		return fmt.Errorf("%s %s, detected over NRI: %w", nriName, version, err)
	}
	a.name, a.inner = nriName, s
	close(a.chosen)
	return nil
}

// store is the chosen runtime's records, or nil.
func (a *autoStore) store() runtimeStore {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.inner
}

var errNotDetected = errors.New(`[daemon.runtime] name = "auto": no runtime has connected over NRI yet, so signgate reads no runtime's records`)

func undetected() *containers.Doubt {
	return &containers.Doubt{Kind: containers.Unknown, Reason: errNotDetected.Error()}
}

func (a *autoStore) Runs(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	if s := a.store(); s != nil {
		return s.Runs(ctx, pod, ctr)
	}
	return containers.Runs{Root: containers.Image{Ref: ctr.GetName(), Doubt: undetected()}}
}

func (a *autoStore) Ran(ctx context.Context, pod *api.PodSandbox, ctr *api.Container) containers.Runs {
	if s := a.store(); s != nil {
		return s.Ran(ctx, pod, ctr)
	}
	return containers.Runs{Root: containers.Image{Ref: ctr.GetName(), Doubt: undetected()}}
}

func (a *autoStore) Sandbox(ctx context.Context, pod *api.PodSandbox) containers.Image {
	if s := a.store(); s != nil {
		return s.Sandbox(ctx, pod)
	}
	return containers.Image{Ref: pod.GetName(), Doubt: undetected()}
}

func (a *autoStore) AsCreated(ctx context.Context, ctr *api.Container, img name.Digest) *containers.Doubt {
	if s := a.store(); s != nil {
		return s.AsCreated(ctx, ctr, img)
	}
	return undetected()
}

func (a *autoStore) RunningTasks(ctx context.Context) (map[string]bool, error) {
	if s := a.store(); s != nil {
		return s.RunningTasks(ctx)
	}
	return nil, errNotDetected
}

func (a *autoStore) StopTask(ctx context.Context, id string, grace time.Duration) error {
	if s := a.store(); s != nil {
		return s.StopTask(ctx, id, grace)
	}
	return errNotDetected
}

// Follow follows the chosen runtime's events, once there is one.
func (a *autoStore) Follow(ctx context.Context, onImage func(name string), onError func(err error, retryIn time.Duration)) {
	select {
	case <-ctx.Done():
		return
	case <-a.chosen:
	}
	a.store().Follow(ctx, onImage, onError)
}

func (a *autoStore) Images(ctx context.Context) ([]string, error) {
	if s := a.store(); s != nil {
		return s.Images(ctx)
	}
	return nil, errNotDetected
}

func (a *autoStore) Resolve(ctx context.Context, ref string) ([]name.Digest, error) {
	if s := a.store(); s != nil {
		return s.Resolve(ctx, ref)
	}
	return nil, errNotDetected
}

func (a *autoStore) PulledManifest(ctx context.Context, img name.Digest) (digest.Digest, error) {
	if s := a.store(); s != nil {
		return s.PulledManifest(ctx, img)
	}
	return "", errNotDetected
}

func (a *autoStore) Close() error {
	if s := a.store(); s != nil {
		return s.Close()
	}
	return nil
}

// refuseOnCRIO wraps the runtime check under "auto": once NRI names
// CRI-O, a config signgate cannot carry out there (a stop policy, the
// probe; refused at load when the config names crio) refuses
// registration, as it would fail only when used: CRI-O's validator then
// refuses every creation, and the log says why.
func (d *Daemon) refuseOnCRIO(check func(name, version string) error) func(name, version string) error {
	return func(name, version string) error {
		if err := check(name, version); err != nil {
			return err
		}
		if name != config.NRINames[config.RuntimeCRIO] {
			return nil
		}
		if r := d.config().CRIORefusals(); len(r) > 0 {
			return fmt.Errorf(`[daemon.runtime] name = "auto" detected CRI-O %s, where this config cannot be carried out: %s`, version, strings.Join(r, "; "))
		}
		return nil
	}
}

// ImageVolumeOf is the chosen runtime's layout of images' files, as
// hooks are judged by it (nri.HookLayout); containerd's until one is.
func (a *autoStore) ImageVolumeOf(m *api.Mount) (imagestore.ImageVolume, bool, error) {
	if l, ok := a.store().(nri.HookLayout); ok {
		return l.ImageVolumeOf(m)
	}
	return imagestore.ImageVolumeOf(m)
}
