package sigtest

import (
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// PushPlatforms pushes to ref an OCI index of one random linux image per
// architecture, each pushed first by digest as CI pushes each platform's
// build, and returns the index's digest and each architecture's manifest.
func PushPlatforms(ref string, archs ...string) (name.Digest, map[string]name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, nil, err
	}
	var imgs []v1.Image
	var platforms []*v1.Platform
	for _, arch := range archs {
		img, err := random.Image(256, 1)
		if err != nil {
			return name.Digest{}, nil, err
		}
		imgs, platforms = append(imgs, img), append(platforms, &v1.Platform{OS: "linux", Architecture: arch})
	}
	idx, list, err := pushIndex(r, imgs, platforms)
	if err != nil {
		return name.Digest{}, nil, err
	}
	manifests := map[string]name.Digest{}
	for i, arch := range archs {
		manifests[arch] = list[i]
	}
	return idx, manifests, nil
}
