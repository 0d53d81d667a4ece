package imagestore

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The platform manifest that runs is the one whose layers the container's
// root filesystem is built on, whatever platform the index labels it with;
// when two manifests share those layers and the config is not known, which
// runs is not known.
func TestPlatformManifest(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	amd, amdCfg, amdChain := f.image("amd64 layers")
	arm, _, armChain := f.image("arm64 layers")
	// Another build of the amd64 layers: same chain, another config.
	twinCfg := f.put(ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString("amd64 layers")}}, Author: "twin"})
	twin := f.put(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: twinCfg}})
	plat := func(arch string) *ocispec.Platform { return &ocispec.Platform{OS: "linux", Architecture: arch} }
	idx := f.put(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: amd, Platform: plat("amd64")},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: arm, Platform: plat("arm64")},
	}})
	twins := f.put(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: amd, Platform: plat("amd64")},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: twin, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}},
	}})
	ref := func(d digest.Digest) name.Digest {
		n, err := name.NewDigest("reg.io/app@" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		what          string
		img           digest.Digest
		chain, config digest.Digest
		want          digest.Digest
	}{
		{"the index's manifest with the layers that run", idx, amdChain, "", amd},
		{"the other platform, when its layers are what runs", idx, armChain, "", arm},
		{"with the config too", idx, amdChain, amdCfg, amd},
		{"layers of no manifest of the index", idx, digest.FromString("nothing"), "", ""},
		{"the config of none with those layers", idx, amdChain, digest.FromString("another config"), ""},
		{"two manifests with the layers, config not known", twins, amdChain, "", ""},
		{"two manifests with the layers, told apart by the config", twins, amdChain, twinCfg, twin},
		{"a plain manifest is its own", amd, amdChain, "", amd},
	} {
		got, err := s.PlatformManifest(ctx, c.chain, c.config, ref(c.img))
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.what, got, err, c.want)
		}
	}
	// Before any container runs: the one manifest the node pulled.
	one := f.index(arm) // names arm64 and a platform not pulled
	for _, c := range []struct {
		what string
		img  digest.Digest
		want digest.Digest
	}{
		{"an index of which one platform was pulled", one, arm},
		{"an index of which two were pulled", idx, ""},
		{"a plain manifest", amd, amd},
	} {
		got, err := s.PulledManifest(ctx, ref(c.img))
		if err != nil || got != c.want {
			t.Errorf("PulledManifest: %s: got %q, %v; want %q", c.what, got, err, c.want)
		}
	}
}
