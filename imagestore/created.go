package imagestore

import (
	"context"
	"encoding/json"
	"fmt"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc/metadata"
)

// criMetadataExtension is where containerd's CRI keeps its own record of a
// container (containerd 1.7 to 2.4): the CRI config it was created with and
// ImageRef, the ID (config digest) of the image whose config it was given.
const criMetadataExtension = "io.cri-containerd.container.metadata"

// Created is what containerd's record of a container says it was created
// from: the image config its process was built from, and the layer chain
// its root filesystem snapshot is prepared on.
type Created struct {
	Config digest.Digest
	Chain  digest.Digest
}

// CreatedFrom reads containerd's record of a created container. CRI
// resolves a container's config (entrypoint, command, env, user, working
// directory) and its snapshot in two lookups; under a tag that moves they
// can come from different images, and neither need be the one the image
// name annotation resolves to later. The record holds what was used. It
// exists from the moment NewContainer returns: at NRI's StartContainer on
// every containerd, not yet at CreateContainer before 2.4.
func (s *Store) CreatedFrom(ctx context.Context, containerID string) (Created, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	resp, err := containersapi.NewContainersClient(s.conn).Get(ctx, &containersapi.GetContainerRequest{ID: containerID})
	if err != nil {
		return Created{}, fmt.Errorf("container %s: %w", containerID, describe("of the container", err))
	}
	c := resp.GetContainer()
	cfg, err := criImageRef(c)
	if err != nil {
		return Created{}, fmt.Errorf("container %s: %w", containerID, err)
	}
	if c.GetSnapshotKey() == "" {
		return Created{}, fmt.Errorf("container %s: containerd's record names no root filesystem snapshot", containerID)
	}
	st, err := s.snapshots.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: c.GetSnapshotter(), Key: c.GetSnapshotKey()})
	if err != nil {
		return Created{}, fmt.Errorf("container %s: reading its root filesystem snapshot (%s): %w", containerID, c.GetSnapshotter(), err)
	}
	chain, err := digest.Parse(st.GetInfo().GetParent())
	if err != nil {
		return Created{}, fmt.Errorf("container %s: its snapshot's parent %q is not an image layer chain", containerID, st.GetInfo().GetParent())
	}
	return Created{Config: cfg, Chain: chain}, nil
}

// criImageRef is the ImageRef of CRI's metadata extension: versioned JSON
// (typeurl marshals CRI's Go struct as JSON).
func criImageRef(c *containersapi.Container) (digest.Digest, error) {
	ext, ok := c.GetExtensions()[criMetadataExtension]
	if !ok {
		return "", fmt.Errorf("containerd's record has no %s extension, so the image config it runs cannot be determined", criMetadataExtension)
	}
	var m struct {
		Version  string
		Metadata struct{ ImageRef string }
	}
	if err := json.Unmarshal(ext.GetValue(), &m); err != nil {
		return "", fmt.Errorf("extension %s: %w", criMetadataExtension, err)
	}
	if m.Version != "v1" {
		return "", fmt.Errorf("extension %s: version %q is not one signgate reads", criMetadataExtension, m.Version)
	}
	d, err := digest.Parse(m.Metadata.ImageRef)
	if err != nil {
		return "", fmt.Errorf("extension %s: ImageRef %q is not an image ID", criMetadataExtension, m.Metadata.ImageRef)
	}
	return d, nil
}
