package doctor

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// snapshotterMarker is the directory name signgate refuses hostPath mounts
// under (imagestore): a snapshotter's default directory in containerd's
// root, wherever that root is.
const snapshotterMarker = "io.containerd.snapshotter."

// unjudgedSnapshotRoots names the snapshots containerd keeps where
// signgate cannot tell them: a snapshotter's root_path outside a directory
// named for it, and proxy snapshotters (stargz, nydus), which keep theirs
// where they like. A hostPath there shows any pulled image's files,
// signed or not.
func unjudgedSnapshotRoots(root, plugins map[string]any) []string {
	var out []string
	for name, v := range plugins {
		p, _ := v.(map[string]any)
		rp, _ := p["root_path"].(string)
		if rp != "" && !hasMarker(rp) {
			out = append(out, fmt.Sprintf("plugins.%q.root_path = %q", name, rp))
		}
	}
	for name, v := range table(root, "proxy_plugins") {
		p, _ := v.(map[string]any)
		if t, _ := p["type"].(string); t == "snapshot" {
			out = append(out, fmt.Sprintf("proxy_plugins.%q (a snapshotter)", name))
		}
	}
	sort.Strings(out)
	return out
}

func hasMarker(p string) bool {
	for _, c := range strings.Split(path.Clean(p), "/") {
		if strings.HasPrefix(c, snapshotterMarker) {
			return true
		}
	}
	return false
}

// snapshotRootsFinding: a hostPath into image snapshots is refused only
// where signgate recognises them.
func snapshotRootsFinding(c *Containerd) Finding {
	f := Finding{Guarantee: "a hostPath into image snapshots is refused", Holds: len(c.UnjudgedSnapshots) == 0}
	f.Detail = "every snapshotter keeps its snapshots under a directory named " + snapshotterMarker + "*"
	if !f.Holds {
		f.Detail = fmt.Sprintf("%s keep snapshots where signgate does not recognise them, so a hostPath there (any pulled image's files, signed or not) is not judged: use the snapshotter's default directory, or keep such hostPaths out by admission policy", strings.Join(c.UnjudgedSnapshots, ", "))
	}
	return f
}
