package crio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/nri/pkg/api"
)

// artifactBlob is a blob path as CRI-O's BlobMountPaths gives it for an
// artifact in the store whose artifacts directory is dir.
func artifactBlob(dir string) string {
	return filepath.Join(dir, "blobs", "sha256", strings.Repeat("ab", 32))
}

// artifactMount is the bind mount CRI-O's mountArtifact adds for one
// artifact file: plain bind, read-only, executable.
func artifactMount(src string) *api.Mount {
	return &api.Mount{Destination: "/x/payload.so", Type: "bind", Source: src, Options: []string{"bind", "ro"}}
}

// A CRI-O OCI artifact volume (an image volume naming an OCI artifact, on
// CRI-O's default oci_artifact_mount_support = true) is a bind mount of a
// blob in CRI-O's artifact store under its storage root: refused, naming
// the mount and saying it is an artifact volume, not admitted unverified.
func TestCRIOArtifactVolumeIsRefused(t *testing.T) {
	f := newFixture(t)
	r := &Store{Storage: f.s, Volumes: runVolumes()}
	dir := filepath.Join(f.s.Root, "artifacts")
	for name, m := range map[string]*api.Mount{
		"a blob":                 artifactMount(artifactBlob(dir)),
		"the artifact store":     artifactMount(dir),
		"an overlay over a blob": {Destination: "/x", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/tmp/a:" + filepath.Join(dir, "blobs")}},
	} {
		_, ok, err := r.ImageVolumeOf(m)
		if ok || err == nil || !strings.Contains(err.Error(), m.GetDestination()) || !strings.Contains(err.Error(), m.GetSource()) || !strings.Contains(err.Error(), "OCI artifact volume") {
			t.Errorf("%s: bound (%v) or not refused as an artifact volume (%v)", name, ok, err)
		}
	}
}

// A blob in one of [crio.runtime] additional_artifact_stores (CRI-O reads
// <store>/artifacts) is refused too, the stores read from CRI-O's config;
// a config that cannot be read refuses a mount that may lie there, and is
// asked again storesRetry later. Other mounts do not have CRI-O's config
// read.
func TestCRIOAdditionalArtifactStoreIsRefused(t *testing.T) {
	f := newFixture(t)
	nfs := filepath.Join(t.TempDir(), "nfs")
	var fail error
	reads := 0
	now := time.Unix(1e9, 0)
	vd := &VolumeDir{ReadStores: func(context.Context) ([]string, string, error) {
		reads++
		return []string{"/mnt/other", nfs}, "test", fail
	}, Now: func() time.Time { return now }}
	r := &Store{Storage: f.s, Volumes: vd}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/etc/hosts", Type: "bind", Source: "/run/x/hosts"}); ok || err != nil || reads != 0 {
		t.Errorf("an ordinary bind mount: %v %v (%d reads)", ok, err, reads)
	}
	blob := artifactBlob(filepath.Join(nfs, "artifacts"))
	if _, ok, err := r.ImageVolumeOf(artifactMount(blob)); ok || err == nil || !strings.Contains(err.Error(), "/x/payload.so") ||
		!strings.Contains(err.Error(), blob) || !strings.Contains(err.Error(), "OCI artifact volume") {
		t.Errorf("a blob in an additional artifact store: %v %v", ok, err)
	}
	// Reached through a symlink, as a hostPath arrives resolved.
	if err := os.MkdirAll(filepath.Join(nfs, "artifacts"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(nfs, link); err != nil {
		t.Fatal(err)
	}
	vd.ReadStores = func(context.Context) ([]string, string, error) { reads++; return []string{link}, "test", fail }
	vd.Reset()
	if _, ok, err := r.ImageVolumeOf(artifactMount(blob)); ok || err == nil || !strings.Contains(err.Error(), "OCI artifact volume") {
		t.Errorf("a blob in a store named through a symlink: %v %v", ok, err)
	}
	if _, ok, err := r.ImageVolumeOf(artifactMount("/srv/artifacts/x")); ok || err != nil {
		t.Errorf("an artifacts directory that is no store: %v %v", ok, err)
	}
	vd.Reset()
	fail = errors.New("no socket")
	if _, ok, err := r.ImageVolumeOf(artifactMount("/srv/artifacts/x")); ok || err == nil || !strings.Contains(err.Error(), "additional_artifact_stores") {
		t.Errorf("an unreadable config: %v %v", ok, err)
	}
	fail = nil
	now = now.Add(storesRetry)
	if _, ok, err := r.ImageVolumeOf(artifactMount(blob)); ok || err == nil || !strings.Contains(err.Error(), "OCI artifact volume") {
		t.Errorf("read again after a failure: %v %v", ok, err)
	}
	if _, ok, err := (&Store{Storage: f.s}).ImageVolumeOf(artifactMount(blob)); ok || err == nil {
		t.Errorf("no CRI-O config: %v %v", ok, err)
	}
}

// TestCRIOArtifactStoresFailureIsKept: before, a CRI-O config that could
// not be read was read again by every creation with a mount path component
// named "artifacts" (an emptyDir so named), each queued behind the last
// read, of up to 10 s, past NRI's 2 s timeout. A read now has 1 s, and its
// failure is kept storesRetry by the injected clock: creations meanwhile
// are refused at once, without asking CRI-O; a read succeeding after it
// is kept as before.
func TestCRIOArtifactStoresFailureIsKept(t *testing.T) {
	now := time.Unix(1e9, 0)
	reads := 0
	fail := errors.New("no socket")
	vd := &VolumeDir{ReadStores: func(ctx context.Context) ([]string, string, error) {
		reads++
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Second {
			t.Errorf("a read of CRI-O's config may take longer than 1 s (deadline %v, %v)", dl, ok)
		}
		return []string{"/mnt/nfs"}, "test", fail
	}, Now: func() time.Time { return now }}
	r := &Store{Volumes: vd}
	emptyDir := &api.Mount{Destination: "/out", Type: "bind", Source: "/var/lib/kubelet/pods/0123/volumes/kubernetes.io~empty-dir/artifacts", Options: []string{"rbind", "rw"}}
	for i := range 3 {
		if _, ok, err := r.ImageVolumeOf(emptyDir); ok || err == nil || !strings.Contains(err.Error(), "no socket") {
			t.Errorf("creation %d while CRI-O's config cannot be read: %v %v", i, ok, err)
		}
		now = now.Add(storesRetry / 3)
	}
	if reads != 1 {
		t.Errorf("CRI-O's config read %d times within %v of a failure, want once", reads, storesRetry)
	}
	now = now.Add(storesRetry)
	fail = nil
	for range 2 {
		if _, ok, err := r.ImageVolumeOf(emptyDir); ok || err != nil {
			t.Errorf("once readable: %v %v", ok, err)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads, want one more after %v", reads, storesRetry)
	}
}

// additional_artifact_stores is read where container_exits_dir is: CRI-O's
// running config, else its files; a relative entry is an error.
func TestCRIOArtifactStoresReadFromCRIO(t *testing.T) {
	sock := serveConfig(t, "[crio.runtime]\n  additional_artifact_stores = [\n\t\"/mnt/nfs\",\n]\n")
	if s, err := (&VolumeDir{Socket: sock}).Stores(); err != nil || len(s) != 1 || s[0] != "/mnt/nfs" {
		t.Errorf("running config: %q %v", s, err)
	}
	d := t.TempDir()
	conf, dropins := filepath.Join(d, "crio.conf"), filepath.Join(d, "crio.conf.d")
	if err := os.WriteFile(conf, []byte("[crio.runtime]\nadditional_artifact_stores = [\"a\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := (&VolumeDir{ConfigFile: conf, ConfigDir: dropins}).Stores(); err == nil {
		t.Errorf("a relative store: %q", s)
	}
	if err := os.MkdirAll(dropins, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dropins, "10-x.conf"), []byte("[crio.runtime]\nadditional_artifact_stores = [\"/b\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := (&VolumeDir{ConfigFile: conf, ConfigDir: dropins}).Stores(); err != nil || len(s) != 1 || s[0] != "/b" {
		t.Errorf("a drop-in: %q %v", s, err)
	}
}

// Anything in CRI-O's storage root is refused but CRI-O's exact image
// volume and a pod's .containerenv: its image records, layer tar-splits,
// containers' config, and whatever a later CRI-O keeps there, as no
// signature covers them. The run root inside the storage root is not
// judged, as the run root elsewhere is not.
func TestCRIOStorageRootOnlyContainerEnv(t *testing.T) {
	f := newFixture(t)
	r := &Store{Storage: f.s, Volumes: runVolumes()}
	root := f.s.Root
	for name, src := range map[string]string{
		"image records":                  filepath.Join(root, "overlay-images"),
		"an image's big data":            filepath.Join(root, "overlay-images", "abc", "manifest"),
		"layer tar-splits":               filepath.Join(root, "overlay-layers"),
		"a container's directory":        filepath.Join(root, "overlay-containers", "c", "userdata"),
		"a container's config":           filepath.Join(root, "overlay-containers", "c", "userdata", "config.json"),
		"a .containerenv one level up":   filepath.Join(root, "overlay-containers", "c", ".containerenv"),
		"a directory no CRI-O makes":     filepath.Join(root, "new", "x"),
		"another driver's .containerenv": filepath.Join(root, "vfs-containers", "c", "userdata", ".containerenv"),
	} {
		if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/x", Type: "bind", Source: src, Options: []string{"rbind", "ro"}}); ok || err == nil || !strings.Contains(err.Error(), "/x") {
			t.Errorf("%s: bound (%v) or not refused (%v)", name, ok, err)
		}
	}
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/x", Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/tmp/a:" + filepath.Join(root, "overlay-images")}}); ok || err == nil {
		t.Errorf("an overlay on image records: %v %v", ok, err)
	}
	env := filepath.Join(root, "overlay-containers", strings.Repeat("c", 64), "userdata", ".containerenv")
	if _, ok, err := r.ImageVolumeOf(&api.Mount{Destination: "/run/.containerenv", Type: "bind", Source: env, Options: []string{"rw", "bind"}}); ok || err != nil {
		t.Errorf("a pod's .containerenv: %v %v", ok, err)
	}
	inside := &Store{Storage: Storage{Root: root, RunRoot: filepath.Join(root, "run")}, Volumes: runVolumes()}
	if _, ok, err := inside.ImageVolumeOf(&api.Mount{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(root, "run", "overlay-containers", "c", "userdata", "hostname")}); ok || err != nil {
		t.Errorf("the run root inside the storage root: %v %v", ok, err)
	}
	if _, ok, err := inside.ImageVolumeOf(artifactMount(artifactBlob(filepath.Join(root, "artifacts")))); ok || err == nil {
		t.Errorf("an artifact beside a run root inside the storage root: %v %v", ok, err)
	}
	above := &Store{Storage: Storage{Root: root, RunRoot: filepath.Dir(root)}, Volumes: runVolumes()}
	if _, ok, err := above.ImageVolumeOf(&api.Mount{Destination: "/x", Type: "bind", Source: filepath.Join(root, "overlay-images")}); ok || err == nil {
		t.Errorf("image records under a run root above the storage root: %v %v", ok, err)
	}
}
