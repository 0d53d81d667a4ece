package sigtest

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PushPlatforms pushes to ref an OCI index of one random linux image per
// architecture, each pushed first by digest as CI pushes each platform's
// build, and returns the index's digest and each architecture's manifest.
func PushPlatforms(ref string, archs ...string) (name.Digest, map[string]name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, nil, err
	}
	manifests := map[string]name.Digest{}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range archs {
		img, err := random.Image(256, 1)
		if err != nil {
			return name.Digest{}, nil, err
		}
		d, err := img.Digest()
		if err != nil {
			return name.Digest{}, nil, err
		}
		manifests[arch] = r.Context().Digest(d.String())
		if err := remote.Write(manifests[arch], img); err != nil {
			return name.Digest{}, nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		return name.Digest{}, nil, err
	}
	d, err := idx.Digest()
	if err != nil {
		return name.Digest{}, nil, err
	}
	return r.Context().Digest(d.String()), manifests, nil
}
