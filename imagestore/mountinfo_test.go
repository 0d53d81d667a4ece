package imagestore

import (
	"os"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

func fixtureMounts(t *testing.T) []mountEntry {
	t.Helper()
	f, err := os.Open("testdata/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parseMountinfo(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseMountinfo(t *testing.T) {
	m := fixtureMounts(t)
	if len(m) != 14 {
		t.Fatalf("parsed %d mounts, want 14", len(m))
	}
	if want := (mountEntry{Dev: "8:2", Root: "/io.containerd.snapshotter.v1.overlayfs/snapshots/123/fs", Point: "/var/lib/kubelet/pods/u1/volume-subpaths/host/app/0"}); m[5] != want {
		t.Errorf("line 6 = %+v, want %+v", m[5], want)
	}
	if m[7].Root != "/srv/with space" {
		t.Errorf("escaped root = %q", m[7].Root)
	}
	for _, bad := range []string{"1 2 3", `22 1 8:1 /a\04 /b rw - ext4 x rw`, "22 1 nodev / / rw - ext4 x rw"} {
		if _, err := parseMountinfo(strings.NewReader(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestResolveBind(t *testing.T) {
	m := fixtureMounts(t)
	sub := "/var/lib/kubelet/pods/u1/volume-subpaths/"
	for _, c := range []struct{ p, host, err string }{
		// the device's own mount shows the snapshot directory
		{p: sub + "host/app/0", host: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/123/fs"},
		{p: sub + "host/app/0/usr/bin", host: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/123/fs/usr/bin"},
		{p: sub + "web/app/1", host: "/srv/data/site"},
		{p: sub + "sp/app/2", host: "/srv/with space"},
		{p: "/etc/hosts", host: "/etc/hosts"},
		{p: sub + "lost/app/3", err: "mounted nowhere else"}, // device 8:3 has no other mount
		{p: sub + "gone/app/9", err: "no bind mount"},        // not in this table
		// the root view, not /mnt/opt's, where a tmpfs covers hidden
		{p: sub + "hid/app/4", host: "/opt/hidden/x"},
		// a tmpfs covers /opt/shadow: only /mnt/opt shows the directory
		{p: sub + "shd/app/5", host: "/mnt/opt/shadow/y"},
	} {
		got, err := resolveBind(m, c.p)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %q, %v; want an error with %q", c.p, got, err, c.err)
			}
		case err != nil || got != c.host:
			t.Errorf("%s: got %q, %v; want %q", c.p, got, err, c.host)
		}
	}
}

// TestSubpathMountIsJudged: a hostPath's subPath reaches the runtime as the
// kubelet's bind mount; what it shows is judged, and one that cannot be
// resolved is refused.
func TestSubpathMountIsJudged(t *testing.T) {
	old := mountTables
	t.Cleanup(func() { mountTables = old })
	mountTables = []string{"testdata/absent", "testdata/mountinfo"}
	r := Runtime{}
	sub := "/var/lib/kubelet/pods/u1/volume-subpaths/"
	for _, c := range []struct{ source, err string }{
		{sub + "host/app/0", "snapshotter"},
		{sub + "lost/app/3", "cannot be resolved"},
		{sub + "web/app/1", ""},
	} {
		_, ok, err := r.volumeOf(&api.Mount{Destination: "/x", Type: "bind", Source: c.source})
		switch {
		case c.err == "" && (err != nil || ok):
			t.Errorf("%s: %v, %v; want an ordinary mount", c.source, ok, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.source)):
			t.Errorf("%s: %v; want an error naming it with %q", c.source, err, c.err)
		}
	}
	mountTables = []string{"testdata/absent"}
	if _, _, err := r.volumeOf(&api.Mount{Destination: "/x", Source: sub + "web/app/1"}); err == nil {
		t.Error("an unreadable mount table let a subPath mount through")
	}
}
