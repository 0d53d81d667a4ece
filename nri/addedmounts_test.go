package nri

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/nri/pkg/api"
	"github.com/opencontainers/go-digest"

	"github.com/signgate/signgate/internal/testkit/testenv"
)

// validateAdded creates c-good (trusted) and asks the validator about the
// adjustment another plugin made to it.
func validateAdded(t *testing.T, f *fixture, adj *api.ContainerAdjustment, owners *api.OwningPlugins) error {
	t.Helper()
	c := ctr("c-good", "reg.io/good:v1")
	if _, _, err := f.p.CreateContainer(context.Background(), f.pod, c); err != nil {
		t.Fatal(err)
	}
	req := &api.ValidateContainerAdjustmentRequest{Pod: f.pod, Container: c, Adjust: adj, Owners: owners}
	return f.p.ValidateContainerAdjustment(context.Background(), req)
}

// TestAddedMountThroughSymlinkIsRefused: a pod writes a symlink into its
// emptyDir pointing at containerd's snapshots; another plugin (NRI's
// device-injector, from a pod's annotations) adds a bind mount, or an
// overlay's lowerdir, through it. Its spelling names no snapshot, and the
// kernel follows the link when the runtime mounts it. A source under the
// kubelet's pod volumes is refused however it is spelled, and a symlink
// elsewhere is resolved and judged where it leads; ordinary directories
// [added_mounts] lists, and links to them, pass.
func TestAddedMountThroughSymlinkIsRefused(t *testing.T) {
	tmp := t.TempDir()
	snaps := filepath.Join(tmp, "var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots")
	emptyDir := filepath.Join(tmp, "var/lib/kubelet/pods/0c6a-uid/volumes/kubernetes.io~empty-dir/w")
	shared, plain := filepath.Join(tmp, "shared"), filepath.Join(tmp, "plain")
	for _, d := range []string{filepath.Join(snaps, "7/fs/bin"), emptyDir, shared, plain} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{
		filepath.Join(emptyDir, "s"):  snaps,
		filepath.Join(shared, "s"):    snaps,
		filepath.Join(shared, "p"):    plain,
		filepath.Join(shared, "gone"): filepath.Join(tmp, "nowhere/x"),
	} {
		if err := os.Symlink(to, link); err != nil {
			t.Fatal(err)
		}
	}
	bind := func(src string) *api.Mount {
		return &api.Mount{Destination: "/s", Source: src, Type: "bind", Options: []string{"rbind", "ro", "rro"}}
	}
	overlay := func(lower string) *api.Mount {
		return &api.Mount{Destination: "/s", Source: "overlay", Type: "overlay", Options: []string{"lowerdir=" + lower}}
	}
	for what, m := range map[string]*api.Mount{
		"a symlink in a pod's emptyDir":               bind(filepath.Join(emptyDir, "s")),
		"a path in a pod's emptyDir, as the host's":   bind("/var/lib/kubelet/pods/0c6a-uid/volumes/kubernetes.io~empty-dir/w/s"),
		"a path in a pod's subPath volume":            bind("/var/lib/kubelet/pods/0c6a-uid/volume-subpaths/v/c/0"),
		"a symlink elsewhere into the snapshots":      bind(filepath.Join(shared, "s/7/fs")),
		"a symlink to a snapshot not there yet":       bind(filepath.Join(shared, "s/99/fs")),
		"a symlink signgate cannot follow":            bind(filepath.Join(shared, "gone/fs")),
		"an overlay's lowerdir through a symlink":     overlay(filepath.Join(shared, "s/7/fs")),
		"an overlay's lowerdir in a pod's emptyDir":   overlay(filepath.Join(emptyDir, "x") + ":" + plain),
		"a relative bind, resolved from the bundle":   bind("rootfs/x"),
		"a symlink's parent, into a snapshot's files": bind(filepath.Join(shared, "s/7/fs/bin")),
		"a listed host path not there":                bind("/opt/driver/lib"),
	} {
		owners := api.NewOwningPlugins()
		if err := owners.ClaimMount("c-good", "/s", "device-injector"); err != nil {
			t.Fatal(err)
		}
		// Listing the test's directories lets none of these through.
		err := validateAdded(t, listing(newFixture(t), tmp, "/opt/driver"), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, owners)
		if err == nil || !strings.Contains(err.Error(), "/s") || !strings.Contains(err.Error(), `"device-injector"`) {
			t.Errorf("%s (%s %v): %v; want a refusal naming /s and the plugin", what, m.Source, m.Options, err)
		}
		t.Logf("%s: %v", what, err)
	}
	for what, m := range map[string]*api.Mount{
		"an ordinary directory":          bind(plain),
		"a symlink to one":               bind(filepath.Join(shared, "p")),
		"an overlay of ordinary ones":    overlay(filepath.Join(shared, "p") + ":" + plain),
		"a tmpfs":                        {Destination: "/s", Source: "tmpfs", Type: "tmpfs"},
		"the pod's own /dev/shm, bound":  bind("/dev/shm"),
		"a GPU's character device bound": bind("/dev/null"),
	} {
		f := listing(newFixture(t), tmp, "/opt/driver", "/dev/shm", "/dev/null")
		if err := validateAdded(t, f, &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil); err != nil {
			t.Errorf("%s (%s): %v", what, m.Source, err)
		}
	}
	// A trusted image volume lies in containerd's state, and is bound to
	// its verified image: it passes.
	f := newFixture(t)
	vol := f.volume("/s", digest.Digest("sha256:"+hexOf('1')), digest.Digest("sha256:"+hexOf('a')))
	if err := validateAdded(t, f, &api.ContainerAdjustment{Mounts: []*api.Mount{vol}}, nil); err != nil {
		t.Errorf("a trusted image volume added: %v", err)
	}
	// So does one whose state directory lies behind a symlink (on another
	// disk); a symlink below the volume's directory does not.
	realDir, state := filepath.Join(tmp, "real"), filepath.Join(tmp, "state")
	key := filepath.Join(state, "image-volumes/sb-good", hexOf('1'))
	if err := os.MkdirAll(filepath.Join(realDir, "image-volumes/sb-good", hexOf('1'), "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(realDir, state); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(snaps, "7/fs"), filepath.Join(realDir, "image-volumes/sb-good", hexOf('1'), "lib")); err != nil {
		t.Fatal(err)
	}
	for sub, allowed := range map[string]bool{"": true, "/bin": true, "/lib": false, "/lib/x": false} {
		f := newFixture(t)
		f.store.mounted[key] = digest.Digest("sha256:" + hexOf('a'))
		m := &api.Mount{Destination: "/s", Source: key + sub, Type: "bind", Options: []string{"rbind", "ro", "rro"}}
		err := validateAdded(t, f, &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil)
		if allowed != (err == nil) {
			t.Errorf("a trusted image volume behind a symlinked state directory, at %q: %v; want allowed %v", sub, err, allowed)
		}
	}
}

// TestAddedBlockDevicesAreRefused: NRI's device-injector takes any device
// and mount a pod's annotations name. A block device (/dev/sdb), a disk's
// filesystem (/dev/sdb1 as ext4), a bind of a block device's node, or a
// device cgroup rule that opens block devices gives the pod the disk that
// holds the image stores, every layer to rewrite: refused, naming the
// plugin and the device. A GPU's character device passes.
func TestAddedBlockDevicesAreRefused(t *testing.T) {
	owners := api.NewOwningPlugins()
	if err := owners.ClaimDevice("c-good", "/dev/sdb", "device-injector"); err != nil {
		t.Fatal(err)
	}
	sdb := &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Devices: []*api.LinuxDevice{{Path: "/dev/sdb", Type: "b", Major: 8, Minor: 16}}}}
	err := validateAdded(t, newFixture(t), sdb, owners)
	if err == nil || !strings.Contains(err.Error(), "/dev/sdb") || !strings.Contains(err.Error(), `"device-injector"`) {
		t.Errorf("a block device added: %v; want a refusal naming /dev/sdb and the plugin", err)
	}
	untyped := &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Devices: []*api.LinuxDevice{{Path: "/dev/x", Major: 8, Minor: 0}}}}
	if err := validateAdded(t, newFixture(t), untyped, nil); err == nil || !strings.Contains(err.Error(), "/dev/x") {
		t.Errorf("a device of no type added: %v; want a refusal naming /dev/x", err)
	}
	gpu := &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Devices: []*api.LinuxDevice{{Path: "/dev/nvidia0", Type: "c", Major: 195, Minor: 0}}}}
	if err := validateAdded(t, newFixture(t), gpu, nil); err != nil {
		t.Errorf("a GPU's character device added: %v", err)
	}
	// c with no major is c *:*: with CAP_MKNOD the pod makes /dev/sg0 (TestAddedRawCharDevicesAreRefused).
	for _, r := range []*api.LinuxDeviceCgroup{{Allow: true, Type: "b", Access: "rwm"}, {Allow: true, Type: "a", Access: "rwm"}, {Allow: true, Access: "rw"}, {Allow: true, Type: "c", Access: "rwm"}} {
		adj := &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Resources: &api.LinuxResources{Devices: []*api.LinuxDeviceCgroup{r}}}}
		if err := validateAdded(t, newFixture(t), adj, nil); err == nil || !strings.Contains(err.Error(), "device cgroup rule") {
			t.Errorf("a device cgroup rule %+v added: %v; want a refusal", r, err)
		}
	}
	for _, r := range []*api.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: &api.OptionalInt64{Value: 195}, Access: "rwm"}, {Allow: false, Type: "a", Access: "rwm"}} {
		adj := &api.ContainerAdjustment{Linux: &api.LinuxContainerAdjustment{Resources: &api.LinuxResources{Devices: []*api.LinuxDeviceCgroup{r}}}}
		if err := validateAdded(t, newFixture(t), adj, nil); err != nil {
			t.Errorf("a device cgroup rule %+v added: %v", r, err)
		}
	}
	disk := func(src, typ string) *api.ContainerAdjustment {
		return &api.ContainerAdjustment{Mounts: []*api.Mount{{Destination: "/h", Source: src, Type: typ}}}
	}
	for _, adj := range []*api.ContainerAdjustment{disk("/dev/sdb1", "ext4"), disk("/dev/disk/by-label/x", "xfs"), disk("/dev/sdb1", "auto"), disk("/var/disk.img", "squashfs")} {
		m := adj.Mounts[0]
		if err := validateAdded(t, newFixture(t), adj, nil); err == nil || !strings.Contains(err.Error(), "/h") {
			t.Errorf("a mount of %s as %s added: %v; want a refusal naming /h", m.Source, m.Type, err)
		}
	}
	// A block device's node, bound in, found as such on the host.
	blk := filepath.Join(t.TempDir(), "sdz")
	if err := syscall.Mknod(blk, syscall.S_IFBLK|0o600, 7<<8|200); err != nil { // loop200
		testenv.Skip(t, "making a block device node needs root: %v", err)
	}
	bound := &api.ContainerAdjustment{Mounts: []*api.Mount{{Destination: "/h", Source: blk, Type: "bind", Options: []string{"rbind"}}}}
	if err := validateAdded(t, newFixture(t), bound, nil); err == nil || !strings.Contains(err.Error(), blk) {
		t.Errorf("a block device's node bound in: %v; want a refusal naming %s", err, blk)
	}
}
