package harness

import (
	"crypto/rand"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OtherArch is a platform this node is not: the index's second platform.
func OtherArch() string {
	if runtime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// Platforms is a multi-platform image as a CI pushes it: the index, the
// manifest this node runs, and another platform's.
type Platforms struct {
	Index, Mine, Other name.Digest
}

// PushPlatforms pushes, to ref, an OCI index of two platforms: this node's
// (a busybox image running args) and OtherArch's (its own layers, never
// run). Each call makes distinct content.
func PushPlatforms(ref string, args ...string) (Platforms, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return Platforms{}, err
	}
	repo := r.Context().Name()
	mine, err := PushBusybox(repo+":build-"+runtime.GOARCH, args...) // as CI pushes each build
	if err != nil {
		return Platforms{}, err
	}
	m, err := remote.Image(mine)
	if err != nil {
		return Platforms{}, err
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	l, err := tarLayer(map[string][]byte{"etc/build-id": nonce}, 0o644)
	if err != nil {
		return Platforms{}, err
	}
	o := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	if o, err = mutate.AppendLayers(o, l); err != nil {
		return Platforms{}, err
	}
	cf, err := o.ConfigFile()
	if err != nil {
		return Platforms{}, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", OtherArch()
	if o, err = mutate.ConfigFile(o, cf); err != nil {
		return Platforms{}, err
	}
	od, err := o.Digest()
	if err != nil {
		return Platforms{}, err
	}
	if err := remote.Write(r.Context().Digest(od.String()), o); err != nil {
		return Platforms{}, err
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: o, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: OtherArch()}}},
		mutate.IndexAddendum{Add: m, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	if err := remote.WriteIndex(r, idx); err != nil {
		return Platforms{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return Platforms{}, err
	}
	return Platforms{Index: r.Context().Digest(d.String()), Mine: mine, Other: r.Context().Digest(od.String())}, nil
}
