package verify

import (
	"context"

	"github.com/google/go-containerregistry/pkg/name"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	ociremote "github.com/sigstore/cosign/v3/pkg/oci/remote"
)

// sharedListing is notation-go's view of a repository with its listing of
// signatures taken from the verification's one referrers listing (see
// referrers), so that a policy requiring cosign and notation signatures
// lists the image's referrers once, not once through each library.
type sharedListing struct {
	notationregistry.Repository
	img  name.Digest
	opts RemoteOptions
}

func (s sharedListing) ListSignatures(ctx context.Context, desc ocispec.Descriptor, fn func([]ocispec.Descriptor) error) error {
	if desc.Digest.String() != s.img.DigestStr() {
		// Not the manifest the listing is for: as notation-go would.
		return s.Repository.ListSignatures(ctx, desc, fn)
	}
	ropts, err := s.opts.Options(ctx, s.img.Context())
	if err != nil {
		return err
	}
	idx, err := referrers(ctx, s.img, ociremote.WithRemoteOptions(ropts...))
	if err != nil {
		return err
	}
	var sigs []ocispec.Descriptor
	for _, d := range idx.Manifests {
		if d.ArtifactType != notationregistry.ArtifactTypeNotation {
			continue
		}
		sigs = append(sigs, ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size,
			ArtifactType: d.ArtifactType, Annotations: d.Annotations})
	}
	return fn(sigs)
}
