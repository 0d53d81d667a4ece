package nri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// listing is f with dirs as [added_mounts] allowed_sources.
func listing(f *fixture, dirs ...string) *fixture {
	f.p.MountSources = func() ([]string, []string) { return dirs, []string{"/data/containers"} }
	return f
}

// TestAddedHostBindsNeedListing: NRI's device-injector adds the mounts a
// pod's annotations name. A bind of /, of the runtimes' or the kubelet's
// state, or of what lies above it lets the pod rewrite any snapshot, a
// signed image's too: refused even when listed. Any other host directory
// is bound only if [added_mounts] allowed_sources lists it, and what its
// symlinks lead to; unlisted, the refusal names the plugin, the source and
// the key. Mounts with no host source (tmpfs) pass unlisted.
func TestAddedHostBindsNeedListing(t *testing.T) {
	tmp := t.TempDir()
	listed, other := filepath.Join(tmp, "listed"), filepath.Join(tmp, "other")
	for _, d := range []string{filepath.Join(listed, "sub"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(other, filepath.Join(listed, "out")); err != nil {
		t.Fatal(err)
	}
	all := []string{"/", "/var", "/var/lib", "/var/lib/containerd", "/var/lib/kubelet", "/data", "/usr/lib/nvidia", listed}
	rbind := func(src string) *api.Mount {
		return &api.Mount{Destination: "/h", Source: src, Type: "bind", Options: []string{"rbind", "ro", "rro"}}
	}
	for src, want := range map[string]string{
		"/":                     "where images' and containers' files are kept",
		"/var":                  "/var/lib/containerd",
		"/var/lib/containerd":   "/var/lib/containerd",
		"/var/lib/containers":   "/var/lib/containers",
		"/run/containerd/x":     "/run/containerd",
		"/var/lib/kubelet":      "/var/lib/kubelet",
		"/var/lib/kubelet/pods": "/var/lib/kubelet",
		"/data":                 "/data/containers", // the config's CRI-O storage
	} {
		err := validateAdded(t, listing(newFixture(t), all...), &api.ContainerAdjustment{Mounts: []*api.Mount{rbind(src)}}, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a listed bind of %s: %v; want a refusal saying %q", src, err, want)
		}
	}
	through := rbind(filepath.Join(listed, "out", "x"))
	if err := validateAdded(t, listing(newFixture(t), listed), &api.ContainerAdjustment{Mounts: []*api.Mount{through}}, nil); err == nil || !strings.Contains(err.Error(), "does not list: list where the link leads") {
		t.Errorf("a listed bind through a link to an unlisted directory: %v", err)
	}
	owners := api.NewOwningPlugins()
	if err := owners.ClaimMount("c-good", "/h", "device-injector"); err != nil {
		t.Fatal(err)
	}
	err := validateAdded(t, listing(newFixture(t), "/usr/lib/nvidia"), &api.ContainerAdjustment{Mounts: []*api.Mount{rbind("/opt/x")}}, owners)
	for _, w := range []string{`"device-injector"`, "/opt/x", "[added_mounts] allowed_sources"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("an unlisted bind: %v; want %q", err, w)
		}
	}
	if err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{rbind("/usr/lib/nvidia")}}, nil); err == nil {
		t.Errorf("a bind with nothing listed: allowed")
	}
	for _, src := range []string{listed, filepath.Join(listed, "sub")} {
		if err := validateAdded(t, listing(newFixture(t), all...), &api.ContainerAdjustment{Mounts: []*api.Mount{rbind(src)}}, nil); err != nil {
			t.Errorf("a listed bind of %s: %v", src, err)
		}
	}
	// A host path read by another type (a file system image, say) too.
	if err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{{Destination: "/h", Source: "/opt/fs.img", Type: "cramfs"}}}, nil); err == nil || !strings.Contains(err.Error(), `"cramfs"`) {
		t.Errorf("a cramfs of an unlisted file: %v", err)
	}
	for _, m := range []*api.Mount{
		{Destination: "/h", Source: "/dev/shm", Type: "tmpfs"},
		{Destination: "/h", Source: "tmpfs", Type: "tmpfs", Options: []string{"size=1m"}},
		{Destination: "/h", Source: "devpts", Type: "devpts"},
		{Destination: "/h", Source: "mqueue", Type: "mqueue"},
	} {
		if err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil); err != nil {
			t.Errorf("a %s with nothing listed: %v", m.Type, err)
		}
	}
}

// TestAddedOverlayReadAsTheKernelDoes: an overlay another plugin adds
// names host directories in its options, which the kernel splits on
// unescaped commas (and lowerdir on unescaped colons) and unescapes.
// upperdir=/x/a:b/7/fs is the directory a:b, a symlink into the
// snapshots, not /x/a: a colon there, a backslash anywhere, or a relative
// directory is refused; the directories must be listed like a bind's.
func TestAddedOverlayReadAsTheKernelDoes(t *testing.T) {
	tmp := t.TempDir()
	snaps := filepath.Join(tmp, "var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots")
	plain := filepath.Join(tmp, "plain")
	for _, d := range []string{filepath.Join(snaps, "7/fs"), plain, filepath.Join(tmp, "c"), filepath.Join(tmp, "c,d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(snaps, filepath.Join(tmp, "a:b")); err != nil {
		t.Fatal(err)
	}
	overlay := func(opts ...string) *api.Mount {
		return &api.Mount{Destination: "/o", Source: "overlay", Type: "overlay", Options: opts}
	}
	work := "workdir=" + filepath.Join(plain, "w")
	for what, m := range map[string]*api.Mount{
		"an upperdir through a:b":          overlay("upperdir="+filepath.Join(tmp, "a:b/7/fs"), work, "lowerdir="+plain),
		"a workdir with a colon":           overlay("upperdir="+plain, "workdir="+filepath.Join(tmp, "a:b/7/w"), "lowerdir="+plain),
		"a lowerdir with an escaped :":     overlay(`lowerdir=` + filepath.Join(tmp, `a\:b/7/fs`)),
		"a lowerdir with an escaped ,":     overlay(`lowerdir=` + filepath.Join(tmp, `c\,d`)),
		"a backslash in another option":    overlay(`x=\y`, "lowerdir="+plain),
		"a relative lowerdir":              overlay("lowerdir=" + plain + ":rel"),
		"a relative upperdir":              overlay("upperdir=up", work, "lowerdir="+plain),
		"a relative workdir":               overlay("upperdir="+plain, "workdir=w", "lowerdir="+plain),
		"an empty lowerdir":                overlay("lowerdir=" + plain + "::"),
		"an unlisted lowerdir":             overlay("lowerdir=/opt/layers/1"),
		"a lowerdir after a comma":         overlay("index=off,lowerdir=/opt/layers/1"),
		"a lowerdir in the state":          overlay("lowerdir=" + plain + ":/var/lib/containerd"),
		"a lowerdir+ unlisted":             overlay("lowerdir+=/opt/layers/1"),
		"an unlisted upperdir and workdir": overlay("upperdir=/opt/u", "workdir=/opt/w", "lowerdir="+plain),
	} {
		err := validateAdded(t, listing(newFixture(t), tmp), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil)
		if err == nil || !strings.Contains(err.Error(), "/o") {
			t.Errorf("%s (%q): %v; want a refusal naming /o", what, m.Options, err)
		}
		t.Logf("%s: %v", what, err)
	}
	ok := overlay("ro", "index=off,lowerdir="+plain+":"+filepath.Join(tmp, "c"))
	if err := validateAdded(t, listing(newFixture(t), tmp), &api.ContainerAdjustment{Mounts: []*api.Mount{ok}}, nil); err != nil {
		t.Errorf("a listed overlay: %v", err)
	}
	if err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{ok}}, nil); err == nil || !strings.Contains(err.Error(), "allowed_sources") {
		t.Errorf("the same overlay, nothing listed: %v", err)
	}
}
