package imagestore

import (
	"strings"
	"testing"
)

// The kernel reads an overlay's lowerdir, upperdir and workdir with
// backslash escapes (any character after a backslash stands for itself)
// and splits the data on commas itself; runc passes an option it does not
// know into that data as written, and a bind mount's relative source is
// taken from the bundle directory, among the runtime's task directories;
// a process's /proc directory links to its root filesystem.
// A mount another plugin adds may spell its paths so: each of these
// reaches a snapshot or another namespace's root filesystem and is
// refused.
func TestMountPathSpellingsAreRefused(t *testing.T) {
	for name, c := range map[string]struct {
		source  string
		options []string
	}{
		"an escaped snapshot lowerdir":      {"overlay", []string{`lowerdir=/var/lib/containerd/io.containerd.snap\shotter.v1.overlayfs/snapshots/3/fs`}},
		"an escaped image volume":           {"overlay", []string{`lowerdir=/run/containerd/io.containerd.grpc.v1.cri/image-volume\s/p/` + strings.Repeat("ab", 32)}},
		"a relative bind source":            {"../../moby/0123/rootfs", []string{"rbind", "ro"}},
		"a relative lowerdir":               {"overlay", []string{"lowerdir=../../moby/0123/rootfs"}},
		"a relative lowerdir after a comma": {"overlay", []string{"index=off,lowerdir=/tmp/a:../../moby/0123/rootfs"}},
		"a dot-dot source":                  {"/tmp/x/../y", []string{"rbind"}},
		"another process's root":            {"/proc/4242/root", []string{"rbind"}},
		"a thread's root, spelled loosely":  {"//proc/self/task/1/root/", []string{"rbind"}},
		"another process's /proc directory": {"/proc/4242", []string{"rbind"}},
		"a lowerdir in another's root":      {"overlay", []string{"lowerdir=/tmp/a:/proc/4242/root/usr"}},
	} {
		if _, ok, err := imageVolumeOf("/x", c.source, c.options); ok || err == nil || !strings.Contains(err.Error(), "/x") {
			t.Errorf("%s: bound (%v) or not refused (%v)", name, ok, err)
		}
	}
	for name, c := range map[string]struct {
		source  string
		options []string
	}{
		"a tmpfs":           {"tmpfs", []string{"nosuid", "size=65536k", "mode=755"}},
		"a bind of a file":  {"/var/lib/kubelet/pods/u/etc-hosts", []string{"rbind", "rprivate", "rw"}},
		"a relative source": {"shm", []string{"nosuid"}},
		"the host's /proc":  {"/proc", []string{"rbind"}},
	} {
		if _, ok, err := imageVolumeOf("/x", c.source, c.options); ok || err != nil {
			t.Errorf("%s: %v %v, want an ordinary mount", name, ok, err)
		}
	}
}
