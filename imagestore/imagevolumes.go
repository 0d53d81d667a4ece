package imagestore

import (
	"context"
	"fmt"
	"sort"

	imagesapi "github.com/containerd/containerd/api/services/images/v1"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc/metadata"
)

// VolumeImages names the image an image volume was made from, as every
// repository containerd knows its target digest under, sorted, so the
// choice never depends on which name was pulled last.
func (s *Store) VolumeImages(ctx context.Context, v ImageVolume) ([]name.Digest, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	list, err := s.images.List(ctx, &imagesapi.ListImagesRequest{Filters: []string{fmt.Sprintf(`target.digest==%q`, v.Target)}})
	if err != nil {
		return nil, describe("mounted at "+v.Destination, err)
	}
	seen := map[string]bool{}
	var repos []string
	for _, img := range list.GetImages() {
		if isImageID(img.GetName()) {
			continue
		}
		if n, err := reference.ParseNormalizedNamed(img.GetName()); err == nil {
			r := reference.TrimNamed(n).String()
			if !seen[r] {
				seen[r] = true
				repos = append(repos, r)
			}
		}
	}
	sort.Strings(repos)
	if len(repos) == 0 {
		return nil, fmt.Errorf("the image volume at %s (%s) is not known to containerd by any name, so the policy that governs it is unknown", v.Destination, v.Target)
	}
	out := make([]name.Digest, 0, len(repos))
	for _, r := range repos {
		d, err := toDigest(r, v.Target.String())
		if err != nil { // sha384 and sha512: containerd has them, signgate's names do not
			return nil, fmt.Errorf("the image volume at %s is %s@%s, which signgate cannot verify: %w", v.Destination, r, v.Target, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// VolumeLayers is the layer chain mounted as the image volume: the parent
// of the snapshot containerd prepared at its host path.
func (s *Store) VolumeLayers(ctx context.Context, v ImageVolume) (digest.Digest, error) {
	p, err := s.snapshotParent(metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace), v.SnapshotKey)
	if err != nil {
		return "", fmt.Errorf("the image volume at %s: %w", v.Destination, err)
	}
	return p, nil
}
