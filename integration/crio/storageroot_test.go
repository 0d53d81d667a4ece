package crio

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestCRIOHostPathToLayersIsRefused: a container of a signed image that
// mounts CRI-O's storage root from the host (a hostPath) sees the layers
// of every image pulled on the node, unsigned ones included, and its
// command can run their programs: refused, as containerd's snapshotter
// directories are.
func TestCRIOHostPathToLayersIsRefused(t *testing.T) {
	e := need(t)
	podID, podCfg := pod(t, e)
	image(t, e, "hostpath/signed", "k1")
	image(t, e, "hostpath/unsigned") // pulled: its layers lie in the storage root
	root, _ := e.CRIOStorage()
	_, err := createRaw(t, e, podID, podCfg, "layers", fmt.Sprintf(
		`{"metadata":{"name":"layers"},"image":{"image":%q},"log_path":"layers.log","mounts":[{"container_path":"/layers","host_path":%q,"readonly":true}]}`,
		e.Registry+"/hostpath/signed:v1", filepath.Join(root, "overlay")))
	mustDeny(t, err, "signgate denied", "the mount at /layers lies in CRI-O's image layers")
}
