package crio

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/signgate/signgate/internal/peercred"
)

// CRI is CRI-O's own CRI API, at the unix socket [daemon.runtime]
// crio_socket names: what runs, and how to stop it. CRI-O 1.35 acts on an
// NRI eviction only in answer to a CRI resource update, so signgate stops
// a container as the kubelet would, with StopContainer: CRI-O signals it,
// kills it after the grace period, and records it exited; whatever
// restarts it creates a new container, which signgate judges again.
type CRI struct {
	Socket string // an absolute path; never guessed

	once sync.Once
	conn *grpc.ClientConn
	err  error
}

// stopSlack is how much longer than the grace period a stop may take:
// CRI-O kills the container when the grace period ends, then waits for it,
// and a pod sandbox's stop (its containers, its infra container, its
// network) took 30 to 40s on the test node.
const stopSlack = 2 * time.Minute

func (c *CRI) client() (runtimeapi.RuntimeServiceClient, error) {
	c.once.Do(func() {
		// NewClient connects on the first call, so a CRI-O not up yet is
		// an error then, not now.
		c.conn, c.err = grpc.NewClient("unix://"+c.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(c.dial))
		if c.err != nil {
			c.err = fmt.Errorf("CRI-O's CRI at %s ([daemon.runtime] crio_socket): %w", c.Socket, c.err)
		}
	})
	if c.err != nil {
		return nil, c.err
	}
	return runtimeapi.NewRuntimeServiceClient(c.conn), nil
}

// dial connects to CRI-O's socket, believing only a root peer (or
// signgate's own user): a stand-in on a socket others could create might
// say nothing runs, so nothing is judged, or that a stop was done.
func (c *CRI) dial(ctx context.Context, _ string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Socket)
	if err != nil {
		return nil, err
	}
	if err := peercred.Check(conn, "CRI-O's CRI at "+c.Socket+" ([daemon.runtime] crio_socket)", peercred.RootOrSelf); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return conn, nil
}

// Version is CRI-O's version as its CRI reports it (for doctor).
func (c *CRI) Version(ctx context.Context) (string, error) {
	rt, err := c.client()
	if err != nil {
		return "", err
	}
	v, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return "", fmt.Errorf("CRI-O's CRI at %s ([daemon.runtime] crio_socket): %w", c.Socket, err)
	}
	return v.GetRuntimeName() + " " + v.GetRuntimeVersion(), nil
}

// RunningTasks names the containers CRI-O reports running now, and the
// pod sandboxes it reports ready (a sandbox is judged as a container of
// its pause image): NRI says when a container starts, not when its
// process exits.
func (c *CRI) RunningTasks(ctx context.Context) (map[string]bool, error) {
	rt, err := c.client()
	if err != nil {
		return nil, err
	}
	resp, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		return nil, fmt.Errorf("listing CRI-O's containers over its CRI at %s: %w", c.Socket, err)
	}
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
		State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}})
	if err != nil {
		return nil, fmt.Errorf("listing CRI-O's pod sandboxes over its CRI at %s: %w", c.Socket, err)
	}
	out := map[string]bool{}
	for _, ctr := range resp.GetContainers() {
		if ctr.GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING {
			out[ctr.GetId()] = true
		}
	}
	for _, p := range pods.GetItems() {
		if p.GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
			out[p.GetId()] = true
		}
	}
	return out, nil
}

// StopTask stops container id with CRI's StopContainer: SIGTERM (or the
// image's stop signal), and SIGKILL once grace has passed. An id that is
// a pod sandbox's is stopped with StopPodSandbox, which stops the pod, as
// stopping its pause process does on containerd. A container CRI-O no
// longer has is not an error.
func (c *CRI) StopTask(ctx context.Context, id string, grace time.Duration) error {
	rt, err := c.client()
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	ctx, cancel := context.WithTimeout(ctx, grace+stopSlack)
	defer cancel()
	pods, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{Id: id}})
	if err != nil {
		return fmt.Errorf("container %s: asking CRI-O's CRI at %s whether it is a pod sandbox: %w", id, c.Socket, err)
	}
	for _, p := range pods.GetItems() {
		if p.GetId() != id {
			continue
		}
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil && status.Code(err) != codes.NotFound {
			return fmt.Errorf("pod sandbox %s: StopPodSandbox over CRI-O's CRI at %s: %w", id, c.Socket, err)
		}
		return nil
	}
	_, err = rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: int64(grace / time.Second)})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("container %s: StopContainer over CRI-O's CRI at %s: %w", id, c.Socket, err)
	}
	return nil
}

// Close closes the connection, if one was made; none is made after.
func (c *CRI) Close() error {
	c.once.Do(func() { c.err = fmt.Errorf("CRI-O's CRI at %s: closed", c.Socket) })
	if c.conn == nil {
		return nil
	}
	return c.conn.Close()
}
