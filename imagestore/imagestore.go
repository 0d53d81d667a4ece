// Package imagestore asks containerd's own image store which digest an image
// name points to on this node: the digest that will run, not what a registry
// says the tag means now.
package imagestore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/signgate/signgate/config"
)

// Store resolves image references through containerd.
type Store struct {
	conn         *grpc.ClientConn
	images       imagesapi.ImagesClient
	snapshots    snapshotsapi.SnapshotsClient
	content      contentapi.ContentClient
	namespace    string
	snapshotters []string
	chains       chainCache
	mem          *memory // what Follow has learnt from containerd's events
}

// Dial connects to containerd's API socket. The connection is lazy: a
// containerd that is restarting is reached again on the next call.
// snapshotters are where containers' root filesystems are looked for.
func Dial(socket, namespace string, snapshotters []string) (*Store, error) {
	conn, err := grpc.NewClient("unix://"+socket,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		// After containerd restarts, calls wait (within their deadline) for
		// the connection instead of failing at once, and the connection is
		// retried within a second rather than gRPC's default of minutes.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.WaitForReady(true)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("containerd socket %s: %w", socket, err)
	}
	if len(snapshotters) == 0 {
		snapshotters = []string{config.DefaultSnapshotter}
	}
	return &Store{
		conn:         conn,
		images:       imagesapi.NewImagesClient(conn),
		snapshots:    snapshotsapi.NewSnapshotsClient(conn),
		content:      contentapi.NewContentClient(conn),
		namespace:    namespace,
		snapshotters: snapshotters,
		mem:          newMemory(snapshotters),
	}, nil
}

// Close releases the connection.
func (s *Store) Close() error { return s.conn.Close() }

// Resolve returns the repository and the manifest (or index) digest that ref
// names in containerd's store. ref may be a tag ("busybox",
// "reg.io/app:v1"), a digest reference ("reg.io/app@sha256:...") or an image
// ID ("sha256:<config digest>"); an ID may be known by several names, and
// all are returned, sorted.
func (s *Store) Resolve(ctx context.Context, ref string) ([]name.Digest, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	if isImageID(ref) {
		return s.resolveIDs(ctx, ref)
	}
	d, err := s.resolveName(ctx, ref)
	if err != nil {
		return nil, err
	}
	return []name.Digest{d}, nil
}

func (s *Store) resolveName(ctx context.Context, ref string) (name.Digest, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image %q is not a valid reference: %w", ref, err)
	}
	t := s.mem.ticket()
	resp, err := s.images.Get(ctx, &imagesapi.GetImageRequest{Name: named.String()})
	if err != nil {
		return name.Digest{}, describe(ref, err)
	}
	d := resp.GetImage().GetTarget().GetDigest()
	if cd, ok := named.(reference.Canonical); ok && cd.Digest().String() != d {
		// containerd stores digest references under their own digest; a
		// mismatch would mean a corrupt store. Never paper over it.
		return name.Digest{}, fmt.Errorf("image %q: containerd's record points to %s", ref, d)
	}
	out, err := toDigest(reference.TrimNamed(named).String(), d)
	if err == nil {
		s.mem.remember(t, out, ref, named.String())
	}
	return out, err
}

// Known answers from memory, without asking containerd, what a container
// being created runs: the layer chain its snapshot was prepared on, and the
// digest ref names (as Resolve would answer for a name). Either is empty
// when it is not known: the container's snapshot event has not arrived, ref
// has not been resolved since the last image change, or ref is an image ID.
// The name is answered only with the chain, whose event orders it after
// every pull that preceded the creation (see memory).
func (s *Store) Known(containerID, ref string) ([]name.Digest, digest.Digest) {
	// Names are remembered as Resolve was given them (every spelling is
	// dropped on any image event), so nothing is parsed here.
	chain, d, chainKnown, nameKnown := s.mem.container(containerID, ref)
	if !chainKnown {
		return nil, ""
	}
	if !nameKnown {
		return nil, chain
	}
	return []name.Digest{d}, chain
}

// Images lists the distinct images in the namespace, one name per target
// digest (skipping the ID records CRI keeps beside the names).
func (s *Store) Images(ctx context.Context) ([]string, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	resp, err := s.images.List(ctx, &imagesapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, img := range resp.GetImages() {
		target := img.GetTarget().GetDigest()
		if isImageID(img.GetName()) || seen[target] {
			continue
		}
		seen[target] = true
		out = append(out, img.GetName())
	}
	return out, nil
}

// resolveID finds every name the image whose ID (config digest) is id is
// known by: each name whose manifest, or an index's manifest, has that
// config. CRI keeps one ID record, pointing at whichever of an index or a
// plain manifest was pulled last; judging only the names beside that record
// made the verdict depend on pull order. The result is sorted.
func (s *Store) resolveIDs(ctx context.Context, id string) ([]name.Digest, error) {
	if _, err := s.images.Get(ctx, &imagesapi.GetImageRequest{Name: id}); err != nil {
		return nil, describe(id, err)
	}
	list, err := s.images.List(ctx, &imagesapi.ListImagesRequest{})
	if err != nil {
		return nil, describe(id, err)
	}
	byTarget := map[string][]string{}
	for _, img := range list.GetImages() {
		if isImageID(img.GetName()) {
			continue
		}
		if n, err := reference.ParseNormalizedNamed(img.GetName()); err == nil {
			t := img.GetTarget().GetDigest()
			byTarget[t] = append(byTarget[t], reference.TrimNamed(n).String())
		}
	}
	seen := map[string]bool{}
	var out []name.Digest
	for target, repos := range byTarget {
		ls, err := s.layouts(ctx, digest.Digest(target))
		if err != nil {
			continue // not this image's content (or not on this node)
		}
		for _, l := range ls {
			if l.config.String() != id {
				continue
			}
			for _, r := range repos {
				d, err := toDigest(r, target)
				if err == nil && !seen[d.String()] {
					seen[d.String()] = true
					out = append(out, d)
				}
			}
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("image %s: containerd knows it by ID only, so its repository (and the policy that governs it) is unknown", id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

func toDigest(repo, d string) (name.Digest, error) {
	if _, err := digest.Parse(d); err != nil {
		return name.Digest{}, fmt.Errorf("image %s: containerd returned a bad digest %q", repo, d)
	}
	return name.NewDigest(repo + "@" + d)
}

// isImageID reports whether ref is an image ID (the config digest) rather
// than a name.
func isImageID(ref string) bool {
	if !strings.HasPrefix(ref, "sha256:") {
		return false
	}
	_, err := digest.Parse(ref)
	return err == nil
}

func describe(ref string, err error) error {
	switch status.Code(err) {
	case codes.NotFound:
		return fmt.Errorf("image %s is not in containerd's image store", ref)
	case codes.Unavailable:
		return fmt.Errorf("image %s: containerd is unreachable: %v", ref, status.Convert(err).Message())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("image %s: containerd did not answer in time", ref)
	}
	return fmt.Errorf("image %s: %w", ref, err)
}

// Ping checks that containerd answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	_, err := s.images.List(ctx, &imagesapi.ListImagesRequest{Filters: []string{`name=="signgate-ping"`}})
	return err
}
