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

// Entry is one manifest of an index PushEntries pushes: the platform the
// index names for it (nil: none, as some tools write) and the one its
// config says.
type Entry struct {
	Named  *v1.Platform
	Config v1.Platform
}

// PushEntries pushes to ref an OCI index of one random image per entry, in
// order, and returns the index's digest and each entry's manifest.
func PushEntries(ref string, entries ...Entry) (name.Digest, []name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, nil, err
	}
	var imgs []v1.Image
	var named []*v1.Platform
	for _, e := range entries {
		img, err := random.Image(256, 1)
		if err != nil {
			return name.Digest{}, nil, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return name.Digest{}, nil, err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = e.Config.OS, e.Config.Architecture, e.Config.Variant, e.Config.OSVersion
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return name.Digest{}, nil, err
		}
		imgs, named = append(imgs, img), append(named, e.Named)
	}
	return pushIndex(r, imgs, named)
}

// pushIndex pushes each image to r's repository by digest, then to r an
// OCI index of them in order, naming platforms[i] for imgs[i]; it returns
// the index's digest and each image's.
func pushIndex(r name.Reference, imgs []v1.Image, platforms []*v1.Platform) (name.Digest, []name.Digest, error) {
	var manifests []name.Digest
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, img := range imgs {
		d, err := img.Digest()
		if err != nil {
			return name.Digest{}, nil, err
		}
		m := r.Context().Digest(d.String())
		if err := remote.Write(m, img); err != nil {
			return name.Digest{}, nil, err
		}
		manifests = append(manifests, m)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platforms[i]}})
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
