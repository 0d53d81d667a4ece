package crio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// runVolumes is a VolumeDir for a CRI-O whose container_exits_dir is
// /run/crio/exits: its image volumes lie over /run/crio/image-volumes.
func runVolumes() *VolumeDir {
	return &VolumeDir{Read: func(context.Context) (string, string, error) { return "/run/crio/exits", "test", nil }}
}

// An overlay a plugin adds (NRI's device-injector, from pod annotations)
// that looks like CRI-O's image volume of a signed image, but puts an
// unsigned layer's files under it (below the signed layer, or as its
// upperdir), is refused, not bound to the signed layer: only CRI-O's own
// form, one lowerdir over CRI-O's own image-volumes directory, is.
func TestCRIOImageVolumeSmuggledLayerIsRefused(t *testing.T) {
	f := newFixture(t)
	signed := f.pull(t, 2, "reg.io/vol:v1")
	evil := f.pull(t, 2, "evil.io/unsigned:v1")
	r := &Store{Storage: f.s, Volumes: runVolumes()}
	layer := filepath.Join(f.s.Root, "overlay", signed.top, "merged")
	evilDiff := filepath.Join(f.s.Root, "overlay", evil.top, "diff")
	overlay := func(opts ...string) *api.Mount {
		return &api.Mount{Destination: "/data", Type: "overlay", Source: "overlay", Options: opts}
	}
	for name, m := range map[string]*api.Mount{
		"an unsigned layer's image-volumes below": overlay("lowerdir=" + layer + ":" + evilDiff + "/image-volumes"),
		"an unsigned layer as upperdir":           overlay("lowerdir="+layer+":/run/crio/image-volumes", "upperdir="+evilDiff, "workdir=/tmp/w"),
		"an upperdir outside the storage":         overlay("lowerdir="+layer+":/run/crio/image-volumes", "upperdir=/tmp/u", "workdir=/tmp/w"),
		"an upperdir in the same option":          overlay("lowerdir=" + layer + ":/run/crio/image-volumes,upperdir=/tmp/u,workdir=/tmp/w"),
		"another image-volumes directory":         overlay("lowerdir=" + layer + ":/tmp/image-volumes"),
		"another option":                          overlay("lowerdir="+layer+":/run/crio/image-volumes", "ro"),
		"a bind source":                           {Destination: "/data", Type: "overlay", Source: "/tmp/x", Options: []string{"lowerdir=" + layer + ":/run/crio/image-volumes"}},
	} {
		v, ok, err := r.ImageVolumeOf(m)
		if ok || err == nil {
			t.Errorf("%s: bound to %q (%v) or not refused (%v)", name, v.SnapshotKey, ok, err)
		}
	}
	if v, ok, err := r.ImageVolumeOf(overlay("lowerdir=" + layer + ":/run/crio/image-volumes")); !ok || err != nil || v.SnapshotKey != signed.top {
		t.Errorf("CRI-O's own image volume: %+v %v %v", v, ok, err)
	}
}

// CRI-O's image-volumes directory is filepath.Dir(container_exits_dir)/
// image-volumes, CRI-O's default when unset; a config that cannot be read
// binds no image volume (doubt), and is asked again next time.
func TestCRIOImageVolumeDirFollowsCRIOConfig(t *testing.T) {
	f := newFixture(t)
	img := f.pull(t, 2, "reg.io/vol:v1")
	layer := filepath.Join(f.s.Root, "overlay", img.top, "merged")
	m := &api.Mount{Destination: "/data", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + layer + ":/var/run/crio/image-volumes"}}
	var exits string
	var fail error
	reads := 0
	vd := &VolumeDir{Read: func(context.Context) (string, string, error) { reads++; return exits, "test", fail }}
	r := &Store{Storage: f.s, Volumes: vd}
	if _, ok, err := r.ImageVolumeOf(m); !ok || err != nil {
		t.Fatalf("CRI-O's default /var/run/crio/exits: %v %v", ok, err)
	}
	exits = "/srv/crio/exits"
	vd.Reset()
	if _, ok, err := r.ImageVolumeOf(m); ok || err == nil {
		t.Errorf("container_exits_dir /srv/crio/exits, a mount over /var/run/crio/image-volumes: %v %v", ok, err)
	}
	m.Options = []string{"lowerdir=" + layer + ":/srv/crio/image-volumes"}
	if _, ok, err := r.ImageVolumeOf(m); !ok || err != nil {
		t.Errorf("container_exits_dir /srv/crio/exits: %v %v", ok, err)
	}
	vd.Reset()
	fail = errors.New("no socket")
	if _, ok, err := r.ImageVolumeOf(m); ok || err == nil || !strings.Contains(err.Error(), "container_exits_dir") || !strings.Contains(err.Error(), "/data") {
		t.Errorf("an unreadable config: %v %v", ok, err)
	}
	fail = nil
	if _, ok, err := r.ImageVolumeOf(m); !ok || err != nil || reads != 4 {
		t.Errorf("read again after a failure: %v %v (%d reads)", ok, err, reads)
	}
	if _, ok, err := (&Store{Storage: f.s}).ImageVolumeOf(m); ok || err == nil {
		t.Errorf("no VolumeDir: %v %v", ok, err)
	}
}

// VolumeDir reads container_exits_dir where RestoreGate reads CRI-O's
// config: its running config on the socket (which has its command line),
// else its files, merged as CRI-O merges them.
func TestCRIOImageVolumeDirReadFromCRIO(t *testing.T) {
	sock := serveConfig(t, "[crio.runtime]\n  container_exits_dir = \"/srv/run/crio/exits\"\n")
	if dir, err := (&VolumeDir{Socket: sock}).Path(); err != nil || dir != "/srv/run/crio/image-volumes" {
		t.Errorf("running config: %q %v", dir, err)
	}
	d := t.TempDir()
	conf, dropins := filepath.Join(d, "crio.conf"), filepath.Join(d, "crio.conf.d")
	if err := os.WriteFile(conf, []byte("[crio.runtime]\ncontainer_exits_dir = \"/a/exits\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dir, err := (&VolumeDir{ConfigFile: conf, ConfigDir: dropins}).Path(); err != nil || dir != "/a/image-volumes" {
		t.Errorf("files: %q %v", dir, err)
	}
	if err := os.MkdirAll(dropins, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropins, "10-x.conf"), []byte("[crio.runtime]\ncontainer_exits_dir = \"/b/exits\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dir, err := (&VolumeDir{ConfigFile: conf, ConfigDir: dropins}).Path(); err != nil || dir != "/b/image-volumes" {
		t.Errorf("a drop-in: %q %v", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dropins, "10-x.conf"), []byte("[crio.runtime]\ncontainer_exits_dir = \"exits\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dir, err := (&VolumeDir{ConfigFile: conf, ConfigDir: dropins}).Path(); err == nil {
		t.Errorf("a relative container_exits_dir: %q", dir)
	}
}
