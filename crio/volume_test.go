package crio

import (
	"context"
	"path/filepath"
	"strings"
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
	r := &Store{Storage: f.s, Volumes: runVolumes()}
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

// TestCRIOStorageRootMountIsRefused: a hostPath into CRI-O's storage root
// shows the layers of every image pulled, signed or not (an unsigned
// image's programs, for a signed container's command to run): refused, as
// containerd's snapshotter directories are. The run root is not judged.
func TestCRIOStorageRootMountIsRefused(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, 2, "reg.io/unsigned:v1")
	r := &Store{Storage: f.s, Volumes: runVolumes()}
	for name, m := range map[string]*api.Mount{
		"a layer's diff":        {Destination: "/x", Type: "bind", Source: filepath.Join(f.s.Root, "overlay", img.top, "diff"), Options: []string{"rbind", "ro"}},
		"the storage root":      {Destination: "/x", Type: "bind", Source: f.s.Root, Options: []string{"rbind"}},
		"the layers' directory": {Destination: "/x", Type: "bind", Source: filepath.Join(f.s.Root, "overlay") + "/", Options: []string{"rbind"}},
		"an overlay on a layer": {Destination: "/x", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/tmp/a:" + filepath.Join(f.s.Root, "overlay", img.top, "diff")}},
	} {
		if _, ok, err := r.ImageVolumeOf(m); ok || err == nil || !strings.Contains(err.Error(), "/x") {
			t.Errorf("%s: bound (%v) or not refused (%v)", name, ok, err)
		}
	}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(f.s.RunRoot, "overlay-containers", "c", "userdata", "hosts")}); ok || err != nil {
		t.Errorf("a file in the run root: %v %v", ok, err)
	}
	// CRI-O mounts each container's own files from the storage root.
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/run/.containerenv", Type: "bind", Source: filepath.Join(f.s.Root, "overlay-containers", "c", "userdata", ".containerenv")}); ok || err != nil {
		t.Errorf("a container's own file: %v %v", ok, err)
	}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/y", Type: "bind", Source: f.s.Root + "-other"}); ok || err != nil {
		t.Errorf("a sibling of the storage root: %v %v", ok, err)
	}
}
