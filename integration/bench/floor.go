package main

import (
	"context"
	"time"

	"github.com/containerd/nri/pkg/api"
	nrilog "github.com/containerd/nri/pkg/log"
	"github.com/containerd/nri/pkg/stub"

	"github.com/signgate/signgate/imagestore"
	"github.com/signgate/signgate/integration/harness"
)

// noopPlugin subscribes to what signgate subscribes to and answers at
// once: the cost of any NRI plugin, the floor signgate's own is measured
// against. With annotate, it adjusts what signgate adjusts: four
// annotations of the same length.
type noopPlugin struct{ annotate bool }

func (p noopPlugin) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	if !p.annotate {
		return nil, nil, nil
	}
	adj := &api.ContainerAdjustment{}
	adj.AddAnnotation("signgate.dev/policy", "apps")
	adj.AddAnnotation("signgate.dev/digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000")
	adj.AddAnnotation("signgate.dev/decision", "verified")
	adj.AddAnnotation("signgate.dev/verified-by", "cosign: k1")
	return adj, nil, nil
}

func (noopPlugin) ValidateContainerAdjustment(context.Context, *api.ValidateContainerAdjustmentRequest) error {
	return nil
}

var (
	_ stub.CreateContainerInterface             = noopPlugin{}
	_ stub.ValidateContainerAdjustmentInterface = noopPlugin{}
)

// quiet drops the NRI stub's log lines.
type quiet struct{}

func (quiet) Debugf(context.Context, string, ...any) {}
func (quiet) Infof(context.Context, string, ...any)  {}
func (quiet) Warnf(context.Context, string, ...any)  {}
func (quiet) Errorf(context.Context, string, ...any) {}

// startNoop connects the no-op plugin, named name, to e's NRI socket, in
// this process.
func startNoop(ctx context.Context, e *harness.Env, name string, annotate bool) {
	nrilog.Set(quiet{})
	s, err := stub.New(noopPlugin{annotate: annotate}, stub.WithSocketPath(e.NRISock), stub.WithPluginName(name), stub.WithPluginIdx("10"))
	check(err)
	check(s.Start(ctx))
}

// roundTrips times the containerd calls signgate makes per creation, over
// its own connection to e's containerd: the floor under the decision.
func roundTrips(e *harness.Env, ref, containerID string) []row {
	st, err := imagestore.Dial(e.ContainerdSock, "k8s.io", nil)
	check(err)
	defer st.Close()
	ctx := context.Background()
	var resolve, rootfs, both []time.Duration
	for i := 0; i < 300; i++ {
		start := time.Now()
		_, err := st.Resolve(ctx, ref)
		resolve = append(resolve, time.Since(start))
		check(err)
		start = time.Now()
		_, err = st.RootFS(ctx, containerID)
		rootfs = append(rootfs, time.Since(start))
		check(err)
		start = time.Now()
		done := make(chan error, 1)
		go func() { _, err := st.RootFS(ctx, containerID); done <- err }()
		_, err = st.Resolve(ctx, ref)
		check(err)
		check(<-done)
		both = append(both, time.Since(start))
	}
	return []row{
		summarize("  containerd round trip: image store (images.Get)", resolve, ""),
		summarize("  containerd round trip: snapshot (snapshots.Stat)", rootfs, ""),
		summarize("  both at once, as the plugin makes them", both, "the floor of a decision that asks containerd"),
	}
}
