package prove

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodNamespace is the Kubernetes namespace the probe's pod claims; policies
// restricted to namespaces see the probe under it.
const PodNamespace = "signgate-prove"

// label marks what a probe made, so a later probe removes what one that
// died half way left.
const label = "signgate.dev/prove"

// pod runs the probe through containerd's CRI, as the kubelet would.
type pod struct {
	rt        runtimeapi.RuntimeServiceClient
	images    runtimeapi.ImageServiceClient
	cfg       *runtimeapi.PodSandboxConfig
	sandbox   string
	container string
}

func newPod(conn *grpc.ClientConn, nonce string) *pod {
	return &pod{rt: runtimeapi.NewRuntimeServiceClient(conn), images: runtimeapi.NewImageServiceClient(conn), cfg: &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "signgate-prove-" + nonce, Namespace: PodNamespace, Uid: "signgate-prove-" + nonce},
		Labels:   map[string]string{label: nonce},
		// The node's network: no CNI needed, nothing to tear down there.
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}}
}

func (p *pod) run(ctx context.Context) error {
	r, err := p.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: p.cfg})
	if err != nil {
		return err
	}
	p.sandbox = r.GetPodSandboxId()
	return nil
}

// waitImage waits until containerd's CRI knows ref.
func (p *pod) waitImage(ctx context.Context, ref string) error {
	for {
		r, err := p.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err == nil && r.GetImage() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd's CRI never listed the probe image %s: %v", ref, errOr(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func errOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// create asks for the probe container; its error is the refusal.
func (p *pod) create(ctx context.Context, ref string) error {
	r, err := p.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: p.sandbox,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "probe"},
			Image:    &runtimeapi.ImageSpec{Image: ref},
			Command:  []string{Command},
			Labels:   p.cfg.Labels,
		},
		SandboxConfig: p.cfg,
	})
	if err != nil {
		return err
	}
	p.container = r.GetContainerId()
	return nil
}

// remove takes down what run and create made, and reports what it could
// not remove.
func (p *pod) remove(ctx context.Context) []string {
	var left []string
	if p.container != "" {
		if _, err := p.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: p.container}); err != nil {
			left = append(left, fmt.Sprintf("container %s: %v", p.container, err))
		}
	}
	if p.sandbox != "" {
		left = append(left, removeSandbox(ctx, p.rt, p.sandbox)...)
	}
	return left
}

func removeSandbox(ctx context.Context, rt runtimeapi.RuntimeServiceClient, id string) []string {
	if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil {
		return []string{fmt.Sprintf("pod sandbox %s: stopping: %v", id, err)}
	}
	if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
		return []string{fmt.Sprintf("pod sandbox %s: %v", id, err)}
	}
	return nil
}

// sweep removes the sandboxes (and with them their containers) that
// earlier probes left, older than a probe can take.
func sweep(ctx context.Context, rt runtimeapi.RuntimeServiceClient, now time.Time, olderThan time.Duration) []string {
	r, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{}})
	if err != nil {
		return []string{fmt.Sprintf("listing pod sandboxes: %v", err)}
	}
	var left []string
	for _, s := range r.GetItems() {
		if _, ok := s.GetLabels()[label]; !ok || s.GetMetadata().GetNamespace() != PodNamespace {
			continue
		}
		if now.Sub(time.Unix(0, s.GetCreatedAt())) < olderThan {
			continue
		}
		left = append(left, removeSandbox(ctx, rt, s.GetId())...)
	}
	return left
}
