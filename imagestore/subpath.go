package imagestore

import (
	"fmt"
	"os"

	"github.com/containerd/nri/pkg/api"
)

// mountTable is the mount table subPath mounts are resolved in: signgate's
// own, which is the host's when it runs in the host's mount namespace
// (systemd). A var for tests.
var mountTable = "/proc/self/mountinfo"

// throughSubpath is m as it must be judged: a mount whose source lies in
// the kubelet's volume-subpaths is the kubelet's bind mount of the
// directory the pod named (a hostPath's subPath), which may be a snapshot
// or layer directory, so it is judged by the host path it shows. One that
// cannot be resolved is refused: what it shows is unknown.
func throughSubpath(m *api.Mount) (*api.Mount, error) {
	if !inSubpaths(m.GetSource()) {
		return m, nil
	}
	host, err := resolveIn(mountTable, m.GetSource())
	if err != nil {
		return nil, fmt.Errorf("the mount at %s is the kubelet's subPath mount %s, whose host directory cannot be resolved (%v), so the image it may show cannot be verified", m.GetDestination(), m.GetSource(), err)
	}
	return &api.Mount{Destination: m.GetDestination(), Type: m.GetType(), Source: host, Options: m.GetOptions()}, nil
}

func resolveIn(table, p string) (string, error) {
	f, err := os.Open(table)
	if err != nil {
		return "", err
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", table, err)
	}
	return resolveBind(mounts, p)
}
