package nri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/imagestore"
)

// addedMounts refuses a mount another plugin added (NRI's device-injector
// adds those a pod's annotations name) that the spelling checks the
// container's own mounts get (adjusted.go) cannot judge:
//
//   - a source or overlay option path under what containers write (the
//     kubelet's pod volumes, containerd's or containers/storage's state,
//     writtenByContainers): a container puts a symlink in its emptyDir
//     and the kernel follows it, into a snapshot, when the runtime mounts
//     it. The container's own mounts come from the kubelet and the
//     runtime, which resolve or refuse such links; an added one does not.
//   - a path whose symlinks, resolved on the host as signgate sees it,
//     lead where images' or containers' files are, or that cannot be
//     resolved though it exists (deny on doubt). This is best effort: a
//     link may be swapped between this look and the runtime's mount, and
//     signgate in a pod sees little of the host. Refusing what containers
//     write is the defense; this catches links elsewhere on the host.
//   - a disk: a block device's filesystem (ext4 from /dev/sdb1) or a block
//     device bound in, as the disk that holds the image stores gives a
//     pod every layer to rewrite (addeddevices.go has the device nodes).
//
// A trusted image volume a plugin adds is bound to its image by the
// container's checks, and passes here unless a symlink moves it. Any other
// host directory it binds, or an overlay's, must be one [added_mounts]
// allowed_sources names, outside the runtimes' state (mountallow.go),
// bound read-only, and no one else may swap on its path (mounttrust.go).
// Only binds, tmpfs, devpts, mqueue and read-only overlays may be added
// at all (mountkinds.go).
func (p *Plugin) addedMounts(id string, adj *api.ContainerAdjustment, owners *api.OwningPlugins) error {
	for _, m := range adj.GetMounts() {
		if _, removal := m.IsMarkedForRemoval(); removal {
			continue
		}
		if why := p.addedMountRefused(m); why != "" {
			by := "another NRI plugin"
			if owners != nil && owners.Owners != nil {
				if o, ok := owners.MountOwner(id, m.GetDestination()); ok && o != "" {
					by = fmt.Sprintf("NRI plugin %q", o)
				}
			}
			return fmt.Errorf("the mount at %s (source %q, type %q) added by %s %s", m.GetDestination(), m.GetSource(), m.GetType(), by, why)
		}
	}
	return nil
}

// addedMountRefused says why an added mount may not be made, or "".
func (p *Plugin) addedMountRefused(m *api.Mount) string {
	bind := isBind(m)
	src := m.GetSource()
	if bind && !strings.HasPrefix(src, "/") {
		return "is a bind mount of a relative path, which the runtime resolves from a directory signgate does not know"
	}
	if diskFilesystems[m.GetType()] {
		return "mounts a disk's filesystem, which may hold the image stores: every layer, a signed image's too, could be rewritten"
	}
	if !bind && (path.Clean(src) == "/dev" || strings.HasPrefix(path.Clean(src), "/dev/")) && !devSourceTypes[m.GetType()] {
		return "mounts a filesystem from a device, which may be the disk that holds the image stores"
	}
	if why := kindRefused(m); why != "" {
		return why
	}
	if why := overlayWritten(m); why != "" {
		return why
	}
	v, volume, err := p.hostLayout()(m)
	if err != nil {
		return "lies where images' files do: " + err.Error()
	}
	dirs, why := overlayDirs(m.GetOptions())
	if why != "" {
		return why
	}
	// What it binds from the host must be listed (mountallow.go); a
	// trusted image volume is bound to its image instead.
	listed := map[string]bool{}
	if (bind || strings.HasPrefix(src, "/") && !devSourceTypes[m.GetType()]) && !volume {
		listed[src] = true // a bind's, or a host path another type reads
	}
	for _, d := range dirs {
		listed[d] = true
	}
	var paths []string
	if strings.HasPrefix(src, "/") {
		paths = append(paths, src)
	}
	paths = append(paths, dirs...)
	for _, o := range m.GetOptions() {
		for _, w := range imagestore.OptionPaths(o) {
			if strings.HasPrefix(w, "/") && !slices.Contains(paths, w) {
				paths = append(paths, w)
			}
		}
	}
	for _, s := range paths {
		if where := writtenByContainers(s); where != "" && !(volume && s == src) {
			return fmt.Sprintf("names %s, which lies in %s: a symlink there leads the kernel anywhere on the host", s, where)
		}
		r, err := onHost(s)
		if err != nil {
			return fmt.Sprintf("names %s, whose symlinks signgate cannot follow (%v)", s, err)
		}
		if volume && s == src {
			if !sameVolume(v, s, r) {
				return fmt.Sprintf("names the image volume %s, which symlinks lead to %s, not the volume verified", s, r)
			}
		} else if r != path.Clean(s) {
			if why := p.resolvedRefused(r); why != "" {
				return fmt.Sprintf("names %s, which symlinks lead to %s, which %s", s, r, why)
			}
		}
		if s == src && isBlockDevice(r) {
			return fmt.Sprintf("binds the block device %s, which may be the disk that holds the image stores", r)
		}
		if listed[s] {
			if why := p.sourceUnlisted(s, r); why != "" {
				return why
			}
			if why := sourceUntrusted(s); why != "" {
				return why
			}
			if why := containerdStateNear(r); why != "" {
				return fmt.Sprintf("names %s, which %s: a pod given it could rewrite any image's files", s, why)
			}
		}
	}
	if bind && !volume {
		return writableBind(m) // listed, so read-only
	}
	return ""
}

// resolvedRefused says why a path a symlink led to may not be mounted, or "".
func (p *Plugin) resolvedRefused(r string) string {
	if c := path.Clean(r); c == "/proc" || strings.HasPrefix(c, "/proc/") {
		return "lies under /proc, where a process's files (a container's root filesystem) show"
	}
	if where := writtenByContainers(r); where != "" {
		return "lies in " + where
	}
	_, vol, err := p.hostLayout()(&api.Mount{Destination: r, Source: r, Type: "bind", Options: []string{"rbind"}})
	if err != nil {
		return "lies where images' files do: " + err.Error()
	}
	if vol {
		return "is an image volume reached by a path signgate cannot bind to it"
	}
	return ""
}

// sameVolume: r, where the volume's source s leads on the host, is what
// the volume's directory shows there: only the directory itself may lie
// behind a symlink (containerd's state dir on another disk), nothing
// below it (an image_sub_path through a link).
func sameVolume(v imagestore.ImageVolume, s, r string) bool {
	c := path.Clean(s)
	if r == c {
		return true
	}
	key := path.Clean(v.SnapshotKey)
	if !strings.HasPrefix(c, key+"/") && c != key {
		return false
	}
	rk, err := onHost(key)
	return err == nil && r == path.Join(rk, strings.TrimPrefix(c, key))
}

// onHost is s with its symlinks resolved as far as it exists here: the
// longest existing prefix resolved, the rest appended. A path that does
// not exist cannot be mounted (the runtime's mount fails); a symlink whose
// target cannot be seen, or a path that cannot be read, is an error.
func onHost(s string) (string, error) {
	cur, rest := path.Clean(s), ""
	for {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return path.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return "", err
		}
		if fi, lerr := os.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symlink to what signgate cannot see", cur)
		}
		if cur == "/" {
			return path.Clean(s), nil
		}
		rest = path.Join(path.Base(cur), rest)
		cur = path.Dir(cur)
	}
}

// isBlockDevice: r is a block device here.
func isBlockDevice(r string) bool {
	fi, err := os.Stat(r)
	return err == nil && fi.Mode()&fs.ModeDevice != 0 && fi.Mode()&fs.ModeCharDevice == 0
}

// isBind: the runtime binds m's source (runc: type bind, or a bind option).
func isBind(m *api.Mount) bool {
	return m.GetType() == "bind" || m.GetType() == "rbind" || slices.ContainsFunc(m.GetOptions(), func(o string) bool { return o == "bind" || o == "rbind" })
}

// diskFilesystems are the kernel's filesystems read from a block device.
var diskFilesystems = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "xfs": true, "btrfs": true, "vfat": true, "msdos": true,
	"exfat": true, "ntfs": true, "ntfs3": true, "f2fs": true, "jfs": true, "reiserfs": true, "hfs": true,
	"hfsplus": true, "iso9660": true, "udf": true, "squashfs": true, "erofs": true, "zfs": true,
	"bcachefs": true, "nilfs2": true, "minix": true, "ufs": true, "gfs2": true, "ocfs2": true,
}

// devSourceTypes are the filesystems whose source, under /dev, is a name
// only: nothing is read from a device.
var devSourceTypes = map[string]bool{"tmpfs": true, "devpts": true, "mqueue": true}
