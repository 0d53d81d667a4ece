package crio

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"

	"github.com/signgate/signgate/imagestore"
)

// fixture is a containers/storage tree as CRI-O leaves it after pulling
// images and creating a container on one of them.
type fixture struct {
	s      Storage
	images []map[string]any
	layers []map[string]any
	ctrs   []map[string]any
}

// fixtureImage is one pulled image: its ID (config hex), manifest digest,
// top layer and layer chain.
type fixtureImage struct {
	id       string
	manifest digest.Digest
	top      string
	chain    digest.Digest
}

func newFixture(t *testing.T) *fixture {
	dir := t.TempDir()
	return &fixture{s: Storage{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run")}}
}

// pull stores a random image of n layers under names, as containers/image
// does: manifest and config as big data, one layer record per layer.
func (f *fixture) pull(t *testing.T, n int, names ...string) fixtureImage {
	t.Helper()
	img, err := random.Image(64, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	cfgRaw, _ := img.RawConfigFile()
	cfgName, _ := img.ConfigName()
	md, _ := img.Digest()
	cf, _ := img.ConfigFile()
	var diffIDs []digest.Digest
	parent := ""
	for i, h := range cf.RootFS.DiffIDs {
		d := digest.Digest(h.String())
		diffIDs = append(diffIDs, d)
		id := strings.Repeat(string(rune('a'+len(f.layers)%26)), 8) + d.Encoded()[:8] + string(rune('0'+i))
		f.layers = append(f.layers, map[string]any{"id": id, "parent": parent, "diff-digest": d})
		parent = id
	}
	fi := fixtureImage{id: cfgName.Hex, manifest: digest.Digest(md.String()), top: parent, chain: identity.ChainID(diffIDs)}
	bd := map[string][]byte{"manifest-" + md.String(): raw, "manifest": raw, cfgName.String(): cfgRaw}
	keys := []string{}
	digests := map[string]digest.Digest{}
	for k, b := range bd {
		keys = append(keys, k)
		digests[k] = digest.FromBytes(b)
		p := filepath.Join(f.s.Root, "overlay-images", fi.id, bigDataBaseName(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.images = append(f.images, map[string]any{"id": fi.id, "digest": fi.manifest, "names": names, "layer": fi.top,
		"big-data-names": keys, "big-data-digests": digests})
	f.write(t)
	return fi
}

// create makes a container of img whose layer sits on parent.
func (f *fixture) create(t *testing.T, id string, img fixtureImage, parent string) {
	t.Helper()
	f.layers = append(f.layers, map[string]any{"id": id + "-layer", "parent": parent})
	f.ctrs = append(f.ctrs, map[string]any{"id": id, "image": img.id, "layer": id + "-layer"})
	f.write(t)
}

func (f *fixture) write(t *testing.T) {
	t.Helper()
	for p, v := range map[string]any{
		filepath.Join(f.s.Root, "overlay-images", "images.json"):         f.images,
		filepath.Join(f.s.Root, "overlay-layers", "layers.json"):         f.layers,
		filepath.Join(f.s.Root, "overlay-containers", "containers.json"): f.ctrs,
	} {
		b, _ := json.Marshal(v)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func ctr(id, imageRef string) *api.Container {
	return &api.Container{Id: id, Annotations: map[string]string{ImageRefAnnotation: imageRef}}
}

// A container CRI-O created from an image is that image: its ID as CRI-O's
// storage records it, every name it was pulled under with the manifest
// held for it, and the layer chain under the container's layer, which is
// the manifest's own.
func TestWhatACRIOContainerRuns(t *testing.T) {
	f := newFixture(t)
	app := f.pull(t, 3, "reg.io/app:v1", "reg.io/mirror/app:v1")
	f.pull(t, 2, "reg.io/other:v1")
	f.create(t, "c1", app, app.top)
	r := &Store{Storage: f.s}
	ctx := context.Background()

	ref, rt, err := r.ContainerImage(ctx, ctr("c1", app.id))
	if err != nil {
		t.Fatal(err)
	}
	if ref != "sha256:"+app.id || rt.GetConfigDigest() != ref || rt.GetDigest() != "" {
		t.Fatalf("ContainerImage = %s, %v; want the image ID as ref and config", ref, rt)
	}
	imgs, err := r.Resolve(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"reg.io/app@" + app.manifest.String(), "reg.io/mirror/app@" + app.manifest.String()}
	if len(imgs) != 2 || imgs[0].String() != want[0] || imgs[1].String() != want[1] {
		t.Fatalf("Resolve(%s) = %v; want %v", ref, imgs, want)
	}
	chain, err := r.RootFS(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if chain != app.chain {
		t.Fatalf("RootFS = %s; want the image's chain %s", chain, app.chain)
	}
	if err := r.BuiltFrom(ctx, chain, digest.Digest(ref), imgs[0]); err != nil {
		t.Fatalf("BuiltFrom: %v", err)
	}
	c, err := r.CreatedFrom(ctx, "c1")
	if err != nil || c.Config.String() != ref || c.Chain != app.chain {
		t.Fatalf("CreatedFrom = %+v, %v", c, err)
	}
	byTag, err := r.Resolve(ctx, "reg.io/app:v1")
	if err != nil || len(byTag) != 1 || byTag[0].String() != want[0] {
		t.Fatalf("Resolve(tag) = %v, %v", byTag, err)
	}
}

// The ImageRef annotation must name the image CRI-O's storage created the
// container from: a spec that names a signed image over an unsigned one's
// container is refused before any name is looked at.
func TestImageRefAnnotationMustBeTheStoragesImage(t *testing.T) {
	f := newFixture(t)
	signed := f.pull(t, 2, "reg.io/signed:v1")
	unsigned := f.pull(t, 2, "reg.io/unsigned:v1")
	f.create(t, "c1", unsigned, unsigned.top)
	r := &Store{Storage: f.s}
	for _, ann := range []string{signed.id, "sha256:" + signed.id, "garbage"} {
		if _, _, err := r.ContainerImage(context.Background(), ctr("c1", ann)); err == nil || !strings.Contains(err.Error(), unsigned.id) {
			t.Errorf("annotation %q over image %s: %v; want refused naming the storage's image", ann, unsigned.id, err)
		}
	}
	if _, _, err := r.ContainerImage(context.Background(), &api.Container{Id: "c1"}); err == nil {
		t.Error("no ImageRef annotation: accepted")
	}
	// Both spellings CRI-O might use for its own value are accepted.
	for _, ann := range []string{unsigned.id, "sha256:" + unsigned.id} {
		if _, _, err := r.ContainerImage(context.Background(), ctr("c1", ann)); err != nil {
			t.Errorf("annotation %q: %v", ann, err)
		}
	}
}

// A container whose layer is not built on its image's top layer (a record
// naming one image over another's layers) runs what no name says.
func TestContainerLayerMustSitOnItsImage(t *testing.T) {
	f := newFixture(t)
	signed := f.pull(t, 2, "reg.io/signed:v1")
	unsigned := f.pull(t, 2, "reg.io/unsigned:v1")
	f.create(t, "c1", signed, unsigned.top)
	r := &Store{Storage: f.s}
	if _, err := r.RootFS(context.Background(), "c1"); !errors.Is(err, imagestore.ErrNotBuiltFrom) {
		t.Fatalf("RootFS of a container on another image's layers: %v; want ErrNotBuiltFrom", err)
	}
}

// Layers or config of another image are not what a name's manifest has.
func TestBuiltFromRefusesAnotherImagesLayersOrConfig(t *testing.T) {
	f := newFixture(t)
	a := f.pull(t, 2, "reg.io/aa:v1")
	b := f.pull(t, 2, "reg.io/bb:v1")
	r := &Store{Storage: f.s}
	an, _ := name.NewDigest("reg.io/aa@" + a.manifest.String())
	if err := r.BuiltFrom(context.Background(), b.chain, "", an); !errors.Is(err, imagestore.ErrNotBuiltFrom) {
		t.Errorf("b's layers as a: %v", err)
	}
	if err := r.BuiltFrom(context.Background(), a.chain, digest.Digest("sha256:"+b.id), an); !errors.Is(err, imagestore.ErrNotBuiltFrom) {
		t.Errorf("a's layers with b's config: %v", err)
	}
}

// A manifest changed on disk no longer matches the digest it is stored
// under: nothing is named by it, so nothing is allowed by it.
func TestTamperedManifestNamesNothing(t *testing.T) {
	f := newFixture(t)
	a := f.pull(t, 1, "reg.io/aa:v1")
	p := filepath.Join(f.s.Root, "overlay-images", a.id, bigDataBaseName("manifest-"+a.manifest.String()))
	if err := os.WriteFile(p, []byte(`{"schemaVersion":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Store{Storage: f.s}
	if imgs, err := r.Resolve(context.Background(), "sha256:"+a.id); err == nil {
		t.Fatalf("Resolve over a tampered manifest = %v", imgs)
	}
	an, _ := name.NewDigest("reg.io/aa@" + a.manifest.String())
	if err := r.BuiltFrom(context.Background(), a.chain, "", an); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("BuiltFrom over a tampered manifest: %v", err)
	}
}

// The file names containers/storage gives big data keys (makeBigDataBaseName).
func TestBigDataBaseName(t *testing.T) {
	for key, want := range map[string]string{
		"manifest":             "manifest",
		"manifest-sha256:abc":  "=bWFuaWZlc3Qtc2hhMjU2OmFiYw==",
		"sha256:abc":           "=c2hhMjU2OmFiYw==",
		"signature-0123456789": "=c2lnbmF0dXJlLTAxMjM0NTY3ODk=",
	} {
		if got := bigDataBaseName(key); got != want {
			t.Errorf("bigDataBaseName(%q) = %q; want %q", key, got, want)
		}
	}
}

var _ v1.Image // random.Image's type, for readers

// A sandbox is its storage container's image; one CRI-O keeps no record
// of is refused, never taken to run nothing.
func TestSandboxIsItsStorageContainersImage(t *testing.T) {
	f := newFixture(t)
	pause := f.pull(t, 1, "reg.io/pause:3.10")
	f.create(t, "pod1", pause, pause.top)
	r := &Store{Storage: f.s}
	ref, chain, err := r.SandboxImage(context.Background(), "pod1")
	if err != nil || ref != "sha256:"+pause.id || chain != pause.chain {
		t.Fatalf("Sandbox(pod1) = %s, %s, %v", ref, chain, err)
	}
	if _, _, err := r.SandboxImage(context.Background(), "pod2"); err == nil {
		t.Fatal("a sandbox with no storage record was not refused")
	}
}
