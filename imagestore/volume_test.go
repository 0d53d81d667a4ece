package imagestore

import (
	"path"
	"slices"
	"strings"
	"testing"
)

func TestImageVolumeOf(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	hex512 := strings.Repeat("cd", 64)
	dir := "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/pod1/"
	base := dir + hex
	for _, c := range []struct {
		source string
		key    string // the snapshot bound; "" for none
		target string
		denied bool
	}{
		{source: base, key: base, target: "sha256:" + hex},
		{source: base + "/sub/path", key: base, target: "sha256:" + hex}, // an image sub path
		{source: base + "/bin\nx", key: base, target: "sha256:" + hex},   // containerd does not clean it
		{source: base + "/./bin/", key: base, target: "sha256:" + hex},
		{source: dir + hex512, key: dir + hex512, target: "sha512:" + hex512},
		{source: dir + hex512 + "/etc", key: dir + hex512, target: "sha512:" + hex512},
		{source: "/var/lib/kubelet/pods/x/volumes/y"},
		{source: "/etc/hosts"},
		{source: "/data/my-image-volumes.txt"}, // the word, not the directory
		{source: base[:len(base)-1], denied: true},
		{source: dir + hex + "x", denied: true},
		{source: dir + strings.ToUpper(hex), denied: true},
		{source: dir, denied: true}, // every volume of the pod
		{source: "/run/containerd/io.containerd.grpc.v1.cri/image-volumes", denied: true},
		{source: base + "/a/../b", denied: true}, // the runtime resolves it again
		{source: "run/image-volumes/p/" + hex, denied: true},
		{source: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/12/fs", denied: true},
	} {
		v, ok, err := imageVolumeOf("/vol", c.source, nil)
		switch {
		case c.denied:
			if ok || err == nil || !strings.Contains(err.Error(), "/vol") {
				t.Errorf("%q: ok=%v err=%v, want refused", c.source, ok, err)
			}
		case c.key == "":
			if ok || err != nil {
				t.Errorf("%q: ok=%v err=%v, want an ordinary mount", c.source, ok, err)
			}
		default:
			if !ok || err != nil || v.SnapshotKey != c.key || v.Target.String() != c.target || v.Destination != "/vol" || v.Source != c.source {
				t.Errorf("%q: %+v ok=%v err=%v, want key %s target %s", c.source, v, ok, err, c.key, c.target)
			}
		}
	}
	// An overlay naming snapshot directories in its options.
	if _, ok, err := imageVolumeOf("/x", "overlay", []string{"lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/3/fs"}); ok || err == nil {
		t.Errorf("an overlay of snapshots: ok=%v err=%v", ok, err)
	}
	if _, ok, err := imageVolumeOf("/x", "/etc/hosts", []string{"rbind", "ro"}); ok || err != nil {
		t.Errorf("a plain bind: ok=%v err=%v", ok, err)
	}
}

func BenchmarkImageVolumeOfOrdinary(b *testing.B) {
	opts := []string{"rbind", "rprivate", "rw"}
	for b.Loop() {
		imageVolumeOf("/etc/hosts", "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/0123456789abcdef/hosts", opts)
	}
}

// FuzzImageVolumeOf: a volume recognised is bound to a snapshot key that is
// a path prefix of its source and ends in its digest; a source that passes
// through the image-volume directory is recognised or refused.
func FuzzImageVolumeOf(f *testing.F) {
	for _, s := range []string{"/run/image-volumes/p/" + strings.Repeat("a", 64) + "/bin\nx", "/etc/hosts", "/x/image-volumes/p", "/image-volumes/p/" + strings.Repeat("b", 128)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, source string) {
		v, ok, err := imageVolumeOf("/d", source, nil)
		if ok {
			if err != nil || !strings.HasPrefix(path.Clean(source)+"/", v.SnapshotKey+"/") || !strings.HasSuffix(v.SnapshotKey, "/"+v.Target.Encoded()) || v.Target.Validate() != nil {
				t.Fatalf("%q: bound as %+v (%v)", source, v, err)
			}
			return
		}
		if err == nil && slices.Contains(strings.Split(path.Clean(source), "/"), "image-volumes") {
			t.Fatalf("%q passes through the image-volume directory, but was neither bound nor refused", source)
		}
	})
}
