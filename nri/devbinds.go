package nri

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// safeDevDirs are the directories under /dev another plugin may bind
// whole: a GPU's (DRM, NVIDIA's capabilities), RDMA's and VFIO's nodes,
// none of them a disk or memory, and the shared memory, huge page and
// message queue filesystems (a pod's own /dev/shm). Any other directory under /dev
// (/dev/mapper, /dev/char, /dev/block, /dev/disk) holds or leads to the
// disks' nodes, so a bind of it is refused; the list is short on purpose.
var safeDevDirs = []string{"/dev/dri", "/dev/infiniband", "/dev/vfio", "/dev/shm", "/dev/hugepages", "/dev/mqueue"}

// safeDevDir: p lies in a directory of safeDevDirs or NVIDIA's
// (/dev/nvidia-caps, /dev/nvidia-caps-imex-channels).
func safeDevDir(p string) bool {
	if strings.HasPrefix(p, "/dev/nvidia") {
		return true
	}
	for _, d := range safeDevDirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// refusedDevBind says why a bind of src gives the container a disk's
// blocks or the host's memory, or "". src is judged as written and where
// its symlinks lead (/dev/char/21:0 is /dev/sg0), and a character node
// there by its major and minor, not its name.
func refusedDevBind(src string, classes charClasses) string {
	r, err := onHost(src)
	if err != nil {
		return fmt.Sprintf("a path whose symlinks signgate cannot follow (%v)", err)
	}
	for _, p := range []string{src, r} {
		if p == "/dev" {
			return "the host's device nodes, a disk's or the host's memory among them"
		}
		if rawDevicePath(p) {
			return fmt.Sprintf("%s, a disk's blocks or the host's memory, by its name", p)
		}
	}
	fi, err := os.Stat(r)
	switch {
	case err == nil && fi.Mode()&fs.ModeCharDevice != 0:
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Sprintf("the character device %s, whose numbers this system does not report", r)
		}
		major, minor := devNumbers(uint64(st.Rdev))
		if why := classes.refusedChar(major, minor); why != "" {
			return fmt.Sprintf("the character device %s (%d:%d), %s", r, major, minor, why)
		}
		return ""
	case err == nil && fi.Mode()&fs.ModeDevice != 0:
		return fmt.Sprintf("the block device %s, which may be the disk that holds the image stores", r)
	case err == nil && !fi.IsDir():
		return "" // a file, FIFO or socket
	}
	under := func(p string) bool { return strings.HasPrefix(p, "/dev/") }
	for _, p := range []string{src, r} {
		if under(p) && !safeDevDir(p) {
			if err != nil {
				return fmt.Sprintf("%s under /dev, which signgate cannot see (%v): it may hold a disk's nodes", p, err)
			}
			return fmt.Sprintf("the directory %s under /dev, which holds or leads to device nodes (only %s and /dev/nvidia* may be bound whole)", p, strings.Join(safeDevDirs, ", "))
		}
	}
	return ""
}

// devNumbers splits a Linux dev_t as glibc's major() and minor() do.
func devNumbers(dev uint64) (major, minor int64) {
	return int64((dev>>8)&0xfff | (dev>>32)&^0xfff), int64(dev&0xff | (dev>>12)&^0xff)
}
