package crio

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// An image volume is an overlay whose only lowerdir is exactly a layer's
// mount in CRI-O's storage over an image-volumes directory: bound to the
// images with that top layer. Any other spelling is not bound: a mount that
// names an image-volumes directory is refused, others are not judged.
func TestCRIOImageVolumeMount(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, 2, "reg.io/vol:v1")
	r := &Store{Storage: f.s}
	mount := func(lower ...string) *api.Mount {
		m := &api.Mount{Destination: "/data", Type: "overlay", Source: "overlay"}
		for _, l := range lower {
			m.Options = append(m.Options, "lowerdir="+l)
		}
		return m
	}
	layer := filepath.Join(f.s.Root, "overlay", img.top, "merged")
	v, ok, err := r.ImageVolumeOf(mount(layer + ":/run/crio/image-volumes"))
	if !ok || err != nil || v.SnapshotKey != img.top {
		t.Fatalf("CRI-O's image volume: %+v %v %v", v, ok, err)
	}
	imgs, err := r.VolumeImages(context.Background(), v)
	if err != nil || len(imgs) != 1 || imgs[0].String() != "reg.io/vol@"+img.manifest.String() {
		t.Fatalf("VolumeImages = %v, %v", imgs, err)
	}
	if chain, err := r.VolumeLayers(context.Background(), v); err != nil || chain != img.chain {
		t.Fatalf("VolumeLayers = %s, %v; want %s", chain, err, img.chain)
	}
	for name, m := range map[string]*api.Mount{
		"a sub path in the run dir":  mount("/run/crio/sub/x:/run/crio/image-volumes"),
		"a layer's diff, not merged": mount(filepath.Join(f.s.Root, "overlay", img.top, "diff") + ":/run/crio/image-volumes"),
		"two lowerdir options":       mount(layer+":/run/crio/image-volumes", layer+":/run/crio/image-volumes"),
		"a dot-dot path":             mount(layer + "/../x/merged:/run/crio/image-volumes"),
		"a third layer below":        mount(layer + ":/run/crio/image-volumes:/tmp"),
	} {
		if _, ok, err := r.ImageVolumeOf(m); ok || err == nil {
			t.Errorf("%s: bound (%v) or not refused (%v)", name, ok, err)
		}
	}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/run/x/hosts"}); ok || err != nil {
		t.Errorf("an ordinary bind mount: %v %v", ok, err)
	}
}
