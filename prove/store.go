package prove

import (
	"context"
	"fmt"
	"time"

	contentapi "github.com/containerd/containerd/api/services/content/v1"
	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	leasesapi "github.com/containerd/containerd/api/services/leases/v1"
	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"github.com/containerd/containerd/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// leaseExpiry bounds what a probe that dies half way leaves behind:
// containerd's garbage collector takes the lease's content after it.
const leaseExpiry = 10 * time.Minute

// store puts the probe image into containerd's content and image stores
// directly (it is never pulled), under a lease of its own.
type store struct {
	conn      *grpc.ClientConn
	namespace string
	lease     string
}

func (s *store) ctx(ctx context.Context) context.Context {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	if s.lease != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "containerd-lease", s.lease)
	}
	return ctx
}

// importImage writes img's blobs and names it ref.
func (s *store) importImage(ctx context.Context, img *probeImage, ref string) error {
	leases := leasesapi.NewLeasesClient(s.conn)
	id := "signgate-prove-" + img.nonce
	if _, err := leases.Create(s.ctx(ctx), &leasesapi.CreateRequest{ID: id, Labels: map[string]string{
		"containerd.io/gc.expire": time.Now().Add(leaseExpiry).UTC().Format(time.RFC3339),
	}}); err != nil {
		return fmt.Errorf("creating lease %s: %w", id, err)
	}
	s.lease = id
	for _, b := range []blob{img.layer, img.config, img.manifest} {
		if err := s.write(ctx, b); err != nil {
			return fmt.Errorf("writing %s to containerd's content store: %w", b.desc.Digest, err)
		}
	}
	m := img.manifest.desc
	_, err := imagesapi.NewImagesClient(s.conn).Create(s.ctx(ctx), &imagesapi.CreateImageRequest{Image: &imagesapi.Image{
		Name:   ref,
		Labels: map[string]string{"dev.signgate.prove": img.nonce},
		Target: &types.Descriptor{MediaType: m.MediaType, Digest: m.Digest.String(), Size: m.Size},
	}})
	if err != nil {
		return fmt.Errorf("creating image %s: %w", ref, err)
	}
	return nil
}

func (s *store) write(ctx context.Context, b blob) error {
	w, err := contentapi.NewContentClient(s.conn).Write(s.ctx(ctx))
	if err != nil {
		return err
	}
	ref := "signgate-prove-" + b.desc.Digest.Encoded()
	for _, req := range []*contentapi.WriteContentRequest{
		{Action: contentapi.WriteAction_STAT, Ref: ref},
		{Action: contentapi.WriteAction_WRITE, Ref: ref, Total: b.desc.Size, Expected: b.desc.Digest.String(), Data: b.data},
		{Action: contentapi.WriteAction_COMMIT, Ref: ref, Total: b.desc.Size, Expected: b.desc.Digest.String(), Offset: b.desc.Size, Labels: b.labels},
	} {
		if err := w.Send(req); err != nil {
			return err
		}
		if _, err := w.Recv(); err != nil {
			if req.Action == contentapi.WriteAction_COMMIT && status.Code(err) == codes.AlreadyExists {
				break
			}
			return err
		}
	}
	return w.CloseSend()
}

// remove deletes every image that names the probe's manifest (containerd's
// CRI adds its own names for an image), then the lease, and collects
// garbage: the blobs and the snapshot unpacked from the layer go with it.
// It reports what is still there.
func (s *store) remove(ctx context.Context, img *probeImage, snapshotters []string) []string {
	var left []string
	images := imagesapi.NewImagesClient(s.conn)
	nctx := metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	list, err := images.List(nctx, &imagesapi.ListImagesRequest{Filters: []string{"target.digest==" + img.manifest.desc.Digest.String()}})
	if err != nil {
		left = append(left, fmt.Sprintf("images naming %s: cannot list: %v", img.manifest.desc.Digest, err))
	}
	for _, i := range list.GetImages() {
		if _, err := images.Delete(nctx, &imagesapi.DeleteImageRequest{Name: i.GetName(), Sync: true}); err != nil && status.Code(err) != codes.NotFound {
			left = append(left, fmt.Sprintf("image %s: %v", i.GetName(), err))
		}
	}
	if s.lease != "" {
		if _, err := leasesapi.NewLeasesClient(s.conn).Delete(nctx, &leasesapi.DeleteRequest{ID: s.lease, Sync: true}); err != nil && status.Code(err) != codes.NotFound {
			left = append(left, fmt.Sprintf("lease %s: %v", s.lease, err))
		}
	}
	content := contentapi.NewContentClient(s.conn)
	for _, b := range []blob{img.manifest, img.config, img.layer} {
		_, err := content.Info(nctx, &contentapi.InfoRequest{Digest: b.desc.Digest.String()})
		switch {
		case status.Code(err) == codes.NotFound:
		case err == nil:
			// Still referenced (a container not yet removed) or the
			// collector has not run: delete it outright.
			if _, err := content.Delete(nctx, &contentapi.DeleteContentRequest{Digest: b.desc.Digest.String()}); err != nil && status.Code(err) != codes.NotFound {
				left = append(left, fmt.Sprintf("content %s: %v", b.desc.Digest, err))
			}
		default:
			left = append(left, fmt.Sprintf("content %s: %v", b.desc.Digest, err))
		}
	}
	// A one-layer image's chain ID is its layer's diff ID.
	chain := img.layer.desc.Digest.String()
	snaps := snapshotsapi.NewSnapshotsClient(s.conn)
	for _, sn := range snapshotters {
		_, err := snaps.Stat(nctx, &snapshotsapi.StatSnapshotRequest{Snapshotter: sn, Key: chain})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err == nil {
			err = s.removeSnapshot(nctx, snaps, sn, chain)
		}
		if err != nil {
			left = append(left, fmt.Sprintf("snapshot %s in %s: %v", chain, sn, err))
		}
	}
	return left
}

func (s *store) removeSnapshot(ctx context.Context, snaps snapshotsapi.SnapshotsClient, sn, key string) error {
	_, err := snaps.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: sn, Key: key})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	return err
}

// sweep deletes the images earlier probes left (one that died before its
// clean-up), older than a probe can take; the lease's expiry takes their
// content.
func (s *store) sweep(ctx context.Context, now time.Time, olderThan time.Duration) []string {
	images := imagesapi.NewImagesClient(s.conn)
	nctx := metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	list, err := images.List(nctx, &imagesapi.ListImagesRequest{Filters: []string{`labels."dev.signgate.prove"`}})
	if err != nil {
		return []string{fmt.Sprintf("listing earlier probes' images: %v", err)}
	}
	var left []string
	for _, i := range list.GetImages() {
		if now.Sub(i.GetCreatedAt().AsTime()) < olderThan {
			continue
		}
		if _, err := images.Delete(nctx, &imagesapi.DeleteImageRequest{Name: i.GetName(), Sync: true}); err != nil && status.Code(err) != codes.NotFound {
			left = append(left, fmt.Sprintf("image %s: %v", i.GetName(), err))
		}
	}
	return left
}
