package imagestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// maxContentBytes caps an index, manifest or config read from containerd.
const maxContentBytes = 4 << 20

// RootFS returns the layer chain the container's root filesystem is built on.
//
// The image reference signgate resolves comes from an annotation that a CRI
// client controls (user_specified_image). The root filesystem does not lie:
// containerd prepares the container's snapshot, keyed by the container ID,
// on top of the image's layer chain before NRI is asked. A container is
// bound to an image when the snapshot's parent is the chain ID of its manifest,
// or of one of the manifests its index names (they are covered by the
// index's signature).
func (s *Store) RootFS(ctx context.Context, containerID string) (digest.Digest, error) {
	return s.rootfsParent(metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace), containerID)
}

// BuiltFrom checks that img is what runs: a manifest under it (itself, or
// one its index names) has the layer chain parent and, when config is
// given, the image config config. Layers alone are not enough: two images
// can share every layer and differ in the config (entrypoint, command,
// env, user), which is as much what runs as the layers are.
func (s *Store) BuiltFrom(ctx context.Context, parent, config digest.Digest, img name.Digest) error {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	ls, err := s.layouts(ctx, digest.Digest(img.DigestStr()))
	if err != nil {
		return fmt.Errorf("image %s: reading its layers from containerd's content store: %w", img, err)
	}
	return builtFrom(ls, parent, config, img)
}

// builtFrom is BuiltFrom on the layouts already read.
func builtFrom(ls []layout, parent, config digest.Digest, img name.Digest) error {
	layers := false
	for _, l := range ls {
		if l.chain != parent || parent == "" {
			continue
		}
		layers = true
		if config == "" || l.config == config {
			return nil
		}
	}
	if layers {
		return fmt.Errorf("the container was created with image config %s, which is not the config of %s with the layers it runs (%s): %w", config, img, parent, ErrNotBuiltFrom)
	}
	return fmt.Errorf("the container's root filesystem (layer chain %s) is not built from %s: %w", parent, img, ErrNotBuiltFrom)
}

// ErrNotBuiltFrom: the layers that run are not the named image's.
var ErrNotBuiltFrom = errors.New("the image it names is not the image it runs")

func (s *Store) rootfsParent(ctx context.Context, containerID string) (digest.Digest, error) {
	p, err := s.snapshotParent(ctx, containerID)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", containerID, err)
	}
	return p, nil
}

// snapshotParent is the image layer chain the snapshot key is prepared on.
func (s *Store) snapshotParent(ctx context.Context, key string) (digest.Digest, error) {
	for _, sn := range s.snapshotters {
		resp, err := s.snapshots.Stat(ctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: sn, Key: key})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("reading its snapshot (%s): %w", sn, err)
		}
		p, err := digest.Parse(resp.GetInfo().GetParent())
		if err != nil {
			return "", fmt.Errorf("its snapshot's parent %q is not an image layer chain (user-namespace remapping is not supported yet)", resp.GetInfo().GetParent())
		}
		return p, nil
	}
	return "", fmt.Errorf("no snapshot %s in snapshotters %v (set daemon.snapshotters to the ones containerd's runtimes use)", key, s.snapshotters)
}

// layout is one image manifest's digest, config digest and layer chain.
type layout struct {
	manifest digest.Digest
	config   digest.Digest
	chain    digest.Digest
}

// layouts returns the config and layer chain of the manifest d, or of every
// manifest of the index d that this node holds. Content is immutable, so
// results are cached.
func (s *Store) layouts(ctx context.Context, d digest.Digest) ([]layout, error) {
	if c, ok := s.chains.get(d); ok {
		return c, nil
	}
	var out []layout
	var walk func(d digest.Digest, depth int) error
	walk = func(d digest.Digest, depth int) error {
		if depth > 2 {
			return errors.New("index nested too deeply")
		}
		b, err := s.read(ctx, d)
		if err != nil {
			return err
		}
		var m struct {
			MediaType string               `json:"mediaType"`
			Manifests []ocispec.Descriptor `json:"manifests"`
			Config    *ocispec.Descriptor  `json:"config"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", d, err)
		}
		if m.Config == nil {
			for _, child := range m.Manifests {
				if child.Platform == nil && child.ArtifactType != "" {
					continue // an attestation or signature, not an image
				}
				if err := walk(child.Digest, depth+1); err != nil {
					if status.Code(errors.Unwrap(err)) == codes.NotFound || status.Code(err) == codes.NotFound {
						continue // a platform this node did not pull
					}
					return err
				}
			}
			return nil
		}
		cb, err := s.read(ctx, m.Config.Digest)
		if err != nil {
			return err
		}
		var cfg ocispec.Image
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return fmt.Errorf("config %s: %w", m.Config.Digest, err)
		}
		l := layout{manifest: d, config: m.Config.Digest}
		if len(cfg.RootFS.DiffIDs) > 0 {
			l.chain = identity.ChainID(cfg.RootFS.DiffIDs)
		}
		out = append(out, l)
		return nil
	}
	if err := walk(d, 0); err != nil {
		return nil, err
	}
	s.chains.put(d, out)
	return out, nil
}

func (s *Store) read(ctx context.Context, d digest.Digest) ([]byte, error) {
	stream, err := s.content.Read(ctx, &contentapi.ReadContentRequest{Digest: d.String()})
	if err != nil {
		return nil, err
	}
	var buf []byte
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		buf = append(buf, resp.GetData()...)
		if len(buf) > maxContentBytes {
			return nil, fmt.Errorf("%s is larger than %d bytes", d, maxContentBytes)
		}
	}
	if digest.FromBytes(buf) != d {
		return nil, fmt.Errorf("content %s does not match its digest", d)
	}
	return buf, nil
}

// chainCache maps image digests to their layouts, bounded.
type chainCache struct {
	mu sync.Mutex
	m  map[digest.Digest][]layout
}

func (c *chainCache) get(d digest.Digest) ([]layout, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[d]
	return v, ok
}

func (c *chainCache) put(d digest.Digest, v []layout) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[digest.Digest][]layout{}
	}
	c.m[d] = v
}
