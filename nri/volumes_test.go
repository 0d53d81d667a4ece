package nri

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

const volumeDir = "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/sb-good/"

// TestImageVolumesThePatternMissed: mounts that lie in containerd's
// image-volume directory are bound to a verified image or refused, however
// their path is spelled: an image_sub_path with a newline (containerd does
// not clean it), a manifest addressed by sha512, a pod's whole directory,
// a snapshotter's directory, a runtime's task directory (other tasks' root
// filesystems).
func TestImageVolumesThePatternMissed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good, bad := digest.Digest("sha256:"+hexOf('1')), digest.Digest("sha256:"+hexOf('2'))
	goodVol := f.volume("/vol", good, f.store.chains[good.String()])
	badVol := f.volume("/vol", bad, f.store.chains[bad.String()])
	sub := func(m *api.Mount, p string) *api.Mount {
		return &api.Mount{Destination: m.Destination, Source: m.Source + "/" + p, Type: "bind", Options: m.Options}
	}
	// An unsigned image's volume, mounted through a sub path the old
	// pattern did not match.
	_, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", sub(badVol, "bin\nx")))
	if err == nil || !strings.Contains(err.Error(), "signgate denied image reg.io/bad") {
		t.Fatalf("an untrusted volume through the sub path %q: %v", "bin\nx", err)
	}
	// A trusted one, through the same sub path, is bound and allowed.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", sub(goodVol, "bin\nx"))); err != nil {
		t.Fatalf("a trusted volume through a sub path: %v", err)
	}
	// A manifest addressed by sha512: recognised, and refused, since
	// signgate's names are sha256.
	hex512 := strings.Repeat("2", 128)
	f.store.volumes[digest.Digest("sha512:"+hex512)] = []name.Digest{dig(t, "reg.io/bad@"+bad.String())}
	f.store.mounted[volumeDir+hex512] = f.store.chains[bad.String()]
	_, _, err = f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", &api.Mount{Destination: "/v512", Source: volumeDir + hex512, Type: "bind"}))
	if err == nil || !strings.Contains(err.Error(), "/v512") {
		t.Fatalf("a volume addressed by sha512: %v", err)
	}
	for _, src := range []string{
		volumeDir[:len(volumeDir)-1],       // every volume of the pod
		volumeDir + hexOf('9'),             // no such snapshot
		volumeDir + hexOf('1') + "/a/../b", // resolved again by the runtime
		"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs",
		// another task's root filesystem: moby's, ctr's, any namespace's
		"/run/containerd/io.containerd.runtime.v2.task/moby/0123abcd/rootfs",
		"/run/containerd/io.containerd.runtime.v1.linux/default/x/rootfs/bin",
	} {
		_, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", &api.Mount{Destination: "/m", Source: src, Type: "bind"}))
		if err == nil || !strings.Contains(err.Error(), "/m") {
			t.Errorf("the mount of %q: %v", src, err)
		}
	}
	// Ordinary mounts are not judged.
	hosts := &api.Mount{Destination: "/etc/hosts", Source: "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/sb-good/hosts", Type: "bind", Options: []string{"rbind", "rw"}}
	if _, _, err := f.p.CreateContainer(ctx, f.pod, ctr("c-good", "reg.io/good:v1", hosts)); err != nil {
		t.Fatalf("an ordinary mount: %v", err)
	}
}

// FuzzMountIsBoundOrDenied: whatever a mount's source and destination, a
// mount that shows anything under containerd's image-volume or snapshotter
// directories is either bound to the trusted volume's snapshot (whose key
// is a path prefix of the source) or the container is refused.
func FuzzMountIsBoundOrDenied(f *testing.F) {
	good := "sha256:" + hexOf('1')
	for _, s := range []string{
		volumeDir + hexOf('1'), volumeDir + hexOf('1') + "/bin\nx", volumeDir + hexOf('2') + "/x",
		volumeDir + hexOf('1') + "/../" + hexOf('2'), volumeDir, "/etc/hosts", "//run//image-volumes/a/" + hexOf('1'),
		volumeDir + strings.Repeat("2", 128), "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs",
		"image-volumes/sb-good/" + hexOf('1'), volumeDir + "./" + hexOf('1'),
	} {
		f.Add("/vol", s)
	}
	f.Fuzz(func(t *testing.T, dest, source string) {
		fx := newFixture(t)
		fx.volume("/vol", digest.Digest(good), fx.store.chains[good]) // the trusted volume's snapshot
		fx.volume("/vol", digest.Digest("sha256:"+hexOf('2')), fx.store.chains["sha256:"+hexOf('2')])
		_, _, err := fx.p.CreateContainer(context.Background(), fx.pod, ctr("c-good", "reg.io/good:v1", &api.Mount{Destination: dest, Source: source, Type: "bind"}))
		if err != nil || !showsImages(source) {
			return // denied, or nothing of an image's shown
		}
		key := volumeDir + hexOf('1')
		if slices.Contains(strings.Split(source, "/"), "..") || !strings.HasPrefix(path.Clean(source)+"/", key+"/") {
			t.Fatalf("the mount of %q at %q was allowed without being bound to the trusted volume %s", source, dest, key)
		}
		ds := fx.rec.ds
		if last := ds[len(ds)-1]; len(ds) != 2 || last.Verdict.Digest != good || !last.Verdict.Allowed {
			t.Fatalf("the mount of %q was allowed, decided as %+v", source, ds)
		}
	})
}

// showsImages: the mount's source, as written or as the kernel would
// resolve it without symlinks, passes through containerd's image-volume or
// a snapshotter's directory.
func showsImages(source string) bool {
	for _, p := range []string{source, path.Clean(source)} {
		for _, c := range strings.Split(p, "/") {
			if c == "image-volumes" || strings.HasPrefix(c, "io.containerd.snapshotter.") || strings.HasPrefix(c, "io.containerd.runtime.") {
				return true
			}
		}
	}
	return false
}

// TestValidatorJudgesMountsOtherPluginsAdd: a plugin after signgate (NRI's
// device-injector, driven by pod annotations) may add a mount of an
// unsigned image's volume or a snapshot's directory. CreateContainer never
// sees it; the validator is shown it among the adjustments, and refuses.
func TestValidatorJudgesMountsOtherPluginsAdd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good, bad := digest.Digest("sha256:"+hexOf('1')), digest.Digest("sha256:"+hexOf('2'))
	for _, m := range []*api.Mount{
		f.volume("/data", bad, f.store.chains[bad.String()]),
		{Destination: "/data", Source: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs", Type: "bind", Options: []string{"rbind", "ro"}},
	} {
		c := ctr("c-good", "reg.io/good:v1")
		if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
			t.Fatal(err)
		}
		req := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: &api.ContainerAdjustment{Mounts: []*api.Mount{m}}}
		err := f.p.ValidateContainerAdjustment(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "/data") {
			t.Errorf("a mount of %s added by another plugin: %v; want a refusal naming /data", m.Source, err)
		}
	}
	// A trusted volume added by a plugin is allowed, and rechecked at
	// start with the container's own image.
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	req := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: &api.ContainerAdjustment{Mounts: []*api.Mount{f.volume("/vol", good, f.store.chains[good.String()])}}}
	if err := f.p.ValidateContainerAdjustment(ctx, req); err != nil {
		t.Fatalf("a trusted volume added by another plugin: %v", err)
	}
	if reqs, _ := f.p.created.get("c-good"); len(reqs) != 2 {
		t.Errorf("StartContainer would recheck %d images, want the container's and its added volume's", len(reqs))
	}
	// Only removals: the pristine container, so the admission is reused.
	if _, _, err := f.p.CreateContainer(ctx, f.pod, c); err != nil {
		t.Fatal(err)
	}
	asked := len(f.eng.asked)
	req = &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: &api.ContainerAdjustment{Mounts: []*api.Mount{{Destination: api.MarkForRemoval("/tmp")}}}}
	if err := f.p.ValidateContainerAdjustment(ctx, req); err != nil || len(f.eng.asked) != asked {
		t.Fatalf("a removal only: %v, %d asks", err, len(f.eng.asked)-asked)
	}
}
