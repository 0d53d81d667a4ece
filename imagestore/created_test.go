package imagestore

import (
	"context"
	"strings"
	"testing"

	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/protobuf/types/known/anypb"
)

// criRecord is containerd's record of a CRI container, with the metadata
// extension as CRI writes it (typeurl's JSON of its Metadata struct).
func criRecord(key, imageRef string) *containersapi.Container {
	return &containersapi.Container{
		ID: key, Snapshotter: "overlayfs", SnapshotKey: key,
		Extensions: map[string]*anypb.Any{criMetadataExtension: {
			TypeUrl: "github.com/containerd/cri/pkg/store/container/Metadata",
			Value:   []byte(`{"Version":"v1","Metadata":{"ID":"` + key + `","Name":"c","ImageRef":"` + imageRef + `","LogPath":""}}`),
		}},
	}
}

// Two images with the same layers and different configs (the unsigned one
// reusing the signed one's layers): the layers alone bind both; the config
// containerd recorded tells which one the container was created from.
func TestCreatedFromBindsTheConfig(t *testing.T) {
	ctx := context.Background()
	f, s := start(t)
	signed, signedCfg, chain := f.image("shared")
	diff := digest.FromString("shared")
	otherCfg := f.put(ocispec.Image{Config: ocispec.ImageConfig{Env: []string{"RACE_EVIL=1"}}, Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"}, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diff}}})
	f.snapshots["overlayfs/c1"] = chain.String()
	img, err := name.NewDigest("reg.io/team/app@" + signed.String())
	if err != nil {
		t.Fatal(err)
	}

	f.containers["c1"] = criRecord("c1", signedCfg.String())
	got, err := s.CreatedFrom(ctx, "c1")
	if err != nil || got.Config != signedCfg || got.Chain != chain {
		t.Fatalf("CreatedFrom = %+v, %v", got, err)
	}
	if err := s.BuiltFrom(ctx, got.Chain, got.Config, img); err != nil {
		t.Fatalf("its own config: %v", err)
	}

	f.containers["c1"] = criRecord("c1", otherCfg.String())
	got, err = s.CreatedFrom(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	err = s.BuiltFrom(ctx, got.Chain, got.Config, img)
	if err == nil || !strings.Contains(err.Error(), "created with image config "+otherCfg.String()) || !strings.Contains(err.Error(), ErrNotBuiltFrom.Error()) {
		t.Fatalf("another image's config on the same layers: %v", err)
	}

	for _, c := range []struct {
		name string
		rec  *containersapi.Container
		want string
	}{
		{"no extension", &containersapi.Container{ID: "c1", Snapshotter: "overlayfs", SnapshotKey: "c1"}, "has no " + criMetadataExtension},
		{"another version", func() *containersapi.Container {
			r := criRecord("c1", signedCfg.String())
			r.Extensions[criMetadataExtension].Value = []byte(`{"Version":"v2","Metadata":{}}`)
			return r
		}(), `version "v2"`},
		{"no image ID", criRecord("c1", ""), `ImageRef "" is not an image ID`},
		{"no snapshot", criRecord("gone", signedCfg.String()), "reading its root filesystem snapshot"},
	} {
		f.containers["c1"] = c.rec
		if _, err := s.CreatedFrom(ctx, "c1"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
	if _, err := s.CreatedFrom(ctx, "missing"); err == nil || !strings.Contains(err.Error(), "container missing") {
		t.Errorf("a missing container: %v", err)
	}
}
