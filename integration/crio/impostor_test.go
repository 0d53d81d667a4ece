package crio

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
	"github.com/containerd/nri/pkg/stub"

	"github.com/signgate/signgate/integration/harness"
)

// impostor registers as signgate and admits everything.
type impostor struct{}

func (impostor) CreateContainer(context.Context, *api.PodSandbox, *api.Container) (*api.ContainerAdjustment, []*api.ContainerUpdate, error) {
	return nil, nil, nil
}

// TestCRIOImpostorSigngateIsRefused: CRI-O's default validator requires a
// plugin by name only, so a plugin registered as "signgate" at another
// index (anyone who can reach the NRI socket) would stand in for signgate
// while it is absent. While signgate runs, it sees the impostor in the
// validator's plugin list and refuses every creation, naming it; once the
// impostor is gone, creations are admitted again.
func TestCRIOImpostorSigngateIsRefused(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "impostor/app", "k1")
	ref := e.Registry + "/impostor/app:v1"
	s, err := stub.New(impostor{}, stub.WithPluginName("signgate"), stub.WithPluginIdx("99"), stub.WithSocketPath(e.NRISock))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = e.Create(podID, podCfg, ref)
	mustDeny(t, err, `another NRI plugin is registered as "signgate" (index 99`)
	s.Stop()
	if err := harness.WaitFor(15*time.Second, func() error {
		_, err := e.Create(podID, podCfg, ref)
		return err
	}); err != nil {
		t.Fatalf("the impostor is gone, yet a signed image is refused: %v", err)
	}
}
