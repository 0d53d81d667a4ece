package imagestore

import (
	"fmt"
	"os"

	"github.com/containerd/nri/pkg/api"
)

// mountTables are where subPath mounts are resolved, the first readable:
// init's, which is the node's (the kubelet's and the runtime's) where
// signgate runs under systemd, even in the private mount namespace its unit
// gives it, and in a pod with hostPID; else signgate's own. In a pod
// without hostPID both are the pod's, which shows none of the kubelet's
// mounts: every subPath mount is refused there. A var for tests.
var mountTables = []string{"/proc/1/mountinfo", "/proc/self/mountinfo"}

// throughSubpath is m as it must be judged: a mount whose source lies in
// the kubelet's volume-subpaths is the kubelet's bind mount of the
// directory the pod named (a hostPath's subPath), which may be a snapshot
// or layer directory, so it is judged by the host path it shows. One that
// cannot be resolved is refused: what it shows is unknown.
func throughSubpath(m *api.Mount) (*api.Mount, error) {
	if !inSubpaths(m.GetSource()) {
		return m, nil
	}
	host, err := resolveIn(mountTables, m.GetSource())
	if err != nil {
		return nil, fmt.Errorf("the mount at %s is the kubelet's subPath mount %s, whose host directory cannot be resolved (%v), so the image it may show cannot be verified", m.GetDestination(), m.GetSource(), err)
	}
	return &api.Mount{Destination: m.GetDestination(), Type: m.GetType(), Source: host, Options: m.GetOptions()}, nil
}

func resolveIn(tables []string, p string) (string, error) {
	var f *os.File
	err := fmt.Errorf("no mount table to read")
	for _, t := range tables {
		if f, err = os.Open(t); err == nil {
			break
		}
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name(), err)
	}
	host, err := resolveBind(mounts, p)
	if err != nil {
		return "", fmt.Errorf("in %s: %w", f.Name(), err)
	}
	return host, nil
}
