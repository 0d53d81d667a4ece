package doctor

import (
	"strings"
	"testing"
)

// signgate refuses a hostPath into image snapshots by the directory names
// containerd gives its snapshotters. A snapshotter moved by root_path, or
// a proxy snapshotter (an import's too), keeps them where signgate cannot
// tell: doctor says so, naming the setting. A root_path that keeps the
// name holds.
func TestDoctorFlagsSnapshotsSigngateCannotTell(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "conf.d/stargz.toml", "version = 3\n[proxy_plugins.stargz]\n  type = \"snapshot\"\n  address = \"/run/containerd-stargz-grpc/containerd-stargz-grpc.sock\"\n")
	main := write(t, dir, "config.toml", `version = 3
imports = ["conf.d/*.toml"]
[plugins.'io.containerd.snapshotter.v1.overlayfs']
  root_path = "/data/containerd/snapshots"
[plugins.'io.containerd.snapshotter.v1.native']
  root_path = "/data/io.containerd.snapshotter.v1.native"
`)
	c, err := ReadContainerd(main)
	if err != nil {
		t.Fatal(err)
	}
	f := snapshotRootsFinding(c)
	if f.Holds || !strings.Contains(f.Detail, `root_path = "/data/containerd/snapshots"`) || !strings.Contains(f.Detail, `proxy_plugins."stargz"`) || strings.Contains(f.Detail, "native") {
		t.Errorf("moved and proxy snapshotters: %+v", f)
	}
	var found bool
	for _, g := range Check(Node{Version: "2.2.0", Config: c}) {
		found = found || g.Guarantee == f.Guarantee && !g.Holds
	}
	if !found {
		t.Error("Check does not report the snapshots signgate cannot tell")
	}
	main = write(t, dir, "plain.toml", "version = 3\n")
	if c, err = ReadContainerd(main); err != nil {
		t.Fatal(err)
	}
	if f := snapshotRootsFinding(c); !f.Holds {
		t.Errorf("containerd's default snapshotters: %+v", f)
	}
}
