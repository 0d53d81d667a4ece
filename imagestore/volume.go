package imagestore

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// How containerd's CRI (2.1 to 2.4) lays out an image volume on the host:
// filepath.Join(<cri state dir>, "image-volumes", <sandbox ID>, <hex>), where
// hex is the encoded part of the image's target digest (no algorithm). That
// directory is also the key of the snapshot mounted there
// (s.Prepare(ctx, target, chainID)), and an image_sub_path is appended to it
// as given: target + "/" + sub path, not cleaned.
const imageVolumeDir = "image-volumes"

// snapshotterDir marks the directories of containerd's snapshotters
// (io.containerd.snapshotter.v1.overlayfs, ...): a snapshot there is named
// by an internal number signgate cannot bind to an image.
const snapshotterDir = "io.containerd.snapshotter."

// taskDir marks the directories of containerd's runtimes
// (io.containerd.runtime.v2.task, v1.linux): each task's bundle there holds
// its root filesystem, mounted, in every containerd namespace, moby's and
// ctr's included, which signgate never gated. CRI mounts nothing from them.
const taskDir = "io.containerd.runtime."

// digestAlgorithms are the ones containerd can address content by; the hex
// length tells them apart.
var digestAlgorithms = []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512}

// ImageVolume is one CRI image volume of a container.
type ImageVolume struct {
	Destination string // where the container sees it
	Source      string // the host path containerd bind-mounts
	// SnapshotKey is the snapshot mounted at the volume's directory, so what
	// is mounted can be checked against the image.
	SnapshotKey string
	// Target is the image's manifest or index digest, as containerd named
	// the directory (the algorithm inferred from the hex length).
	Target digest.Digest
}

// imageVolumeOf tells how a container mount must be judged. ok: it is a CRI
// image volume, to be bound to its image. err: it lies where image volumes
// or snapshots live but cannot be bound to one, so it must be refused. Any
// other mount is neither: signgate does not judge it. A mount is looked at
// by its source and, for a mount that is not a bind (an overlay, say), its
// options, which may name snapshot directories.
func imageVolumeOf(destination, source string, options []string) (v ImageVolume, ok bool, err error) {
	if !suspect(source) {
		if procLink(source) {
			return ImageVolume{}, false, fmt.Errorf("the mount at %s lies in a process's /proc directory (%s), which leads into its root filesystem, so what it shows cannot be judged", destination, source)
		}
		if hasDotDot(source) {
			return ImageVolume{}, false, fmt.Errorf("the mount at %s has a \"..\" component in its source %q, which the runtime resolves from a directory signgate does not know, so what it shows cannot be judged", destination, source)
		}
		for _, o := range options {
			u := OverlayUnescape(o)
			if suspect(u) {
				return ImageVolume{}, false, fmt.Errorf("the mount at %s names containerd's image-volume or snapshot directories in its option %q, which signgate cannot bind to an image", destination, o)
			}
			if strings.Contains(u, "proc") && slices.ContainsFunc(OptionPaths(o), procLink) {
				return ImageVolume{}, false, fmt.Errorf("the mount at %s names a process's /proc directory in its option %q, which leads into its root filesystem, so what it shows cannot be judged", destination, o)
			}
			if strings.Contains(u, "..") && slices.ContainsFunc(OptionPaths(o), hasDotDot) {
				return ImageVolume{}, false, fmt.Errorf("the mount at %s has a \"..\" component in its option %q, which the kernel resolves from a directory signgate does not know, so what it shows cannot be judged", destination, o)
			}
		}
		return ImageVolume{}, false, nil // most mounts: no allocation on the hot path
	}
	unbound := func(why string) error {
		return fmt.Errorf("the mount at %s %s, so the image it shows cannot be verified", destination, why)
	}
	if !strings.HasPrefix(source, "/") {
		return ImageVolume{}, false, unbound("is a relative path into containerd's image-volume or snapshot directories")
	}
	raw := strings.Split(source, "/")
	for _, c := range raw {
		if c == ".." {
			// containerd checks a sub path inside the volume, but the
			// runtime resolves the joined string again, symlinks and all.
			return ImageVolume{}, false, unbound(`has a ".." component`)
		}
	}
	parts := strings.Split(path.Clean(source), "/")
	for _, c := range parts {
		if strings.HasPrefix(c, snapshotterDir) {
			return ImageVolume{}, false, unbound("lies in a containerd snapshotter's directory")
		}
		if strings.HasPrefix(c, taskDir) {
			return ImageVolume{}, false, unbound("lies in a containerd runtime's task directory, where other containers' root filesystems are mounted")
		}
	}
	at := -1
	for i, c := range parts {
		if c == imageVolumeDir {
			at = i
			break
		}
	}
	if at < 0 {
		// "image-volumes" only inside a component (a file name): an
		// ordinary mount.
		return ImageVolume{}, false, nil
	}
	if len(parts) < at+3 {
		return ImageVolume{}, false, unbound("is containerd's image-volume directory, or a pod's, not one volume")
	}
	hex := parts[at+2]
	target, found := digest.Digest(""), false
	for _, a := range digestAlgorithms {
		if a.Available() && len(hex) == a.Size()*2 {
			if d := digest.NewDigestFromEncoded(a, hex); d.Validate() == nil {
				target, found = d, true
				break
			}
		}
	}
	if !found || parts[at+1] == "" {
		return ImageVolume{}, false, unbound(fmt.Sprintf("lies in containerd's image-volume directory, but %q is not a digest containerd addresses content by", hex))
	}
	key := strings.Join(parts[:at+3], "/")
	return ImageVolume{Destination: destination, Source: source, SnapshotKey: key, Target: target}, true, nil
}

// suspect: s may lie where image volumes or snapshots live. Most mounts are
// not, and are told so without splitting.
func suspect(s string) bool {
	return strings.Contains(s, imageVolumeDir) || strings.Contains(s, snapshotterDir) || strings.Contains(s, taskDir)
}
