package integration

import (
	"context"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"
)

// adjuster stands for an NRI plugin after signgate that adjusts every
// container of a pod in namespace ns (as NRI's device-injector does from
// the pod's annotations, which the CRI client chooses).
type adjuster struct {
	ns     string
	adjust func(*api.ContainerAdjustment)
}

func (a adjuster) CreateContainer(_ context.Context, pod *api.PodSandbox, _ *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if pod.GetNamespace() != a.ns {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	a.adjust(adj)
	return adj, nil, nil
}

// plugIn connects plugin to containerd's NRI socket as plugin idx-name;
// the stop it returns disconnects it.
func (e *env) plugIn(plugin any, name, idx string) (stop func()) {
	e.t.Helper()
	s, err := stub.New(plugin, stub.WithPluginName(name), stub.WithPluginIdx(idx), stub.WithSocketPath(e.NRISock))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	return func() {
		s.Stop()
		cancel()
	}
}
