package imagestore

import (
	"strings"
	"testing"
)

func TestImageVolumeOf(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	base := "/run/containerd/io.containerd.grpc.v1.cri/image-volumes/pod1/" + hex
	for _, c := range []struct {
		source string
		ok     bool
	}{
		{base, true},
		{base + "/sub/path", true}, // an image subpath
		{"/var/lib/kubelet/pods/x/volumes/y", false},
		{"/etc/hosts", false},
		{base[:len(base)-1], false}, // not a digest
		{"/image-volumes/pod1/" + hex + "x", false},
	} {
		v, ok := ImageVolumeOf("/vol", c.source)
		if ok != c.ok {
			t.Errorf("%s: image volume = %v, want %v", c.source, ok, c.ok)
			continue
		}
		if ok && (v.SnapshotKey != base || v.Target.Encoded() != hex || v.Destination != "/vol") {
			t.Errorf("%s: parsed as %+v", c.source, v)
		}
	}
}
