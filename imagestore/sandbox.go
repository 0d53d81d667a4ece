package imagestore

import (
	"context"
	"fmt"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc/metadata"
)

// SandboxImage reads the pod sandbox's own container from containerd: the image
// it was created from (the sandbox or "pause" image) and the layer chain its
// root filesystem is built on. CRI creates it before NRI hears of the pod.
func (s *Store) SandboxImage(ctx context.Context, sandboxID string) (string, digest.Digest, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	resp, err := containersapi.NewContainersClient(s.conn).Get(ctx, &containersapi.GetContainerRequest{ID: sandboxID})
	if err != nil {
		return "", "", fmt.Errorf("pod sandbox %s: %w", sandboxID, describe("of the sandbox", err))
	}
	c := resp.GetContainer()
	if c.GetImage() == "" {
		return "", "", fmt.Errorf("pod sandbox %s: its container names no image", sandboxID)
	}
	st, err := s.snapshots.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: c.GetSnapshotter(), Key: c.GetSnapshotKey()})
	if err != nil {
		return c.GetImage(), "", fmt.Errorf("pod sandbox %s: reading its root filesystem snapshot (%s): %w", sandboxID, c.GetSnapshotter(), err)
	}
	p, err := digest.Parse(st.GetInfo().GetParent())
	if err != nil {
		return c.GetImage(), "", fmt.Errorf("pod sandbox %s: its root filesystem's parent %q is not an image layer chain", sandboxID, st.GetInfo().GetParent())
	}
	return c.GetImage(), p, nil
}
