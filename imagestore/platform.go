package imagestore

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	"google.golang.org/grpc/metadata"
)

// PlatformManifest is the manifest under img that the container runs: img
// itself when it is a manifest; when it is an index, the one manifest it
// names whose layer chain is chain and, when config is given, whose config
// is config. It is bound to the layers that run, not to the node's
// platform string: an index may list platforms the node can also run. ""
// when no manifest or more than one distinct one matches: which runs is then
// not known, and only the index's own signatures can count.
func (s *Store) PlatformManifest(ctx context.Context, chain, config digest.Digest, img name.Digest) (digest.Digest, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	ls, err := s.layouts(ctx, digest.Digest(img.DigestStr()))
	if err != nil {
		return "", err
	}
	return platformManifest(ls, chain, config), nil
}

// platformManifest is PlatformManifest on the layouts already read.
func platformManifest(ls []layout, chain, config digest.Digest) digest.Digest {
	var found digest.Digest
	for _, l := range ls {
		if chain == "" || l.chain != chain || (config != "" && l.config != config) {
			continue
		}
		if found != "" && found != l.manifest {
			return "" // two manifests with these layers: which runs is not known
		}
		found = l.manifest
	}
	return found
}

// PulledManifest is the manifest under img this node holds, when it holds
// one only (img itself for a plain manifest; for an index, the one platform
// pulled): the one a container of img will run, known before any does, so
// that a verification ahead of the container is the one it reuses. ""
// when the node holds several.
func (s *Store) PulledManifest(ctx context.Context, img name.Digest) (digest.Digest, error) {
	ctx = metadata.AppendToOutgoingContext(ctx, "containerd-namespace", s.namespace)
	ls, err := s.layouts(ctx, digest.Digest(img.DigestStr()))
	if err != nil {
		return "", err
	}
	var found digest.Digest
	for _, l := range ls {
		if found != "" && found != l.manifest {
			return "", nil
		}
		found = l.manifest
	}
	return found, nil
}
