package nri

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/nri/pkg/api"
)

// addedMountTypes are the only mounts another plugin may add but binds:
// none reads the host. A pseudo-filesystem (proc, sysfs, cgroup,
// debugfs, binfmt_misc, ...) is the host kernel's own: container root
// writing /proc/sys/kernel/core_pattern runs its code as host root.
var addedMountTypes = map[string]bool{"tmpfs": true, "devpts": true, "mqueue": true, "overlay": true}

// bindTypes are the types runc and crun read a bind under: a bind
// option makes the type meaningless to runc, but not every runtime says so.
var bindTypes = map[string]bool{"bind": true, "rbind": true, "none": true, "": true}

// kindRefused says why m's type may not be added, or "".
func kindRefused(m *api.Mount) string {
	if isBind(m) {
		if !bindTypes[m.GetType()] {
			return fmt.Sprintf("is a bind of type %q: a bind's type is bind or none", m.GetType())
		}
		return ""
	}
	if !addedMountTypes[m.GetType()] {
		return fmt.Sprintf("mounts a filesystem of type %q: another plugin may add only binds, tmpfs, devpts, mqueue and overlay mounts, for the host kernel's own (proc, sysfs, cgroup, ...) let container root reach the host", m.GetType())
	}
	return ""
}

// writableBind says why the bind m of a listed host source is not
// read-only, or "": the pod's annotations pick the options, and a listed
// library or driver directory bound rw lets container root (host uid 0)
// replace what the host's root runs next. runc and crun set the
// options in order, so "rw" anywhere is refused; a recursive bind
// carries the source's submounts, which "ro" leaves writable, so it
// needs "rro" as well (runc 1.1+, crun: mount_setattr). A bind is
// non-recursive only when its options say "bind" and not "rbind".
func writableBind(m *api.Mount) string {
	opts := m.GetOptions()
	if !slices.Contains(opts, "ro") || slices.Contains(opts, "rw") {
		return fmt.Sprintf("binds the listed host path %s without \"ro\" (options %q): a listed directory is bound read-only, or a pod could replace what the host runs from it", m.GetSource(), opts)
	}
	recursive := !slices.Contains(opts, "bind") || slices.Contains(opts, "rbind") || m.GetType() == "rbind"
	if recursive && (!slices.Contains(opts, "rro") || slices.Contains(opts, "rrw")) {
		return fmt.Sprintf("binds the listed host path %s recursively without \"rro\" (options %q): the mounts below it would stay writable; add \"rro\" or bind with \"bind\"", m.GetSource(), opts)
	}
	return ""
}

// overlayWritten says why an added overlay writes a host directory, or
// "": its upperdir and workdir are written, and a listed directory is
// read-only.
func overlayWritten(m *api.Mount) string {
	if m.GetType() != "overlay" {
		return ""
	}
	for _, o := range m.GetOptions() {
		for _, k := range []string{"upperdir=", "workdir="} {
			if containsOption(o, k) {
				return fmt.Sprintf("is an overlay with an %s, a host directory the kernel writes: an added overlay may only read (lowerdir)", k[:len(k)-1])
			}
		}
	}
	return ""
}

// containsOption: one of o's comma-split options starts with k.
func containsOption(o, k string) bool {
	return slices.ContainsFunc(strings.Split(o, ","), func(kv string) bool { return strings.HasPrefix(kv, k) })
}
