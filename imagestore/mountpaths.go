package imagestore

import (
	"path"
	"strings"
)

// OverlayUnescape is s as the kernel reads an overlay's lowerdir, upperdir
// and workdir: a backslash makes the next character stand for itself, so
// `io.containerd.snap\shotter.` names a snapshotter's directory. runc
// passes an option it does not know to the kernel as written.
func OverlayUnescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s // most options: no allocation
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i++; i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// OptionPaths are the paths option o may name as the kernel reads it:
// unescaped, split where a value starts (=), where lowerdirs part (:) and
// where the kernel splits the mount data itself (,), which one option
// may hold ("index=off,lowerdir=...").
func OptionPaths(o string) []string {
	return strings.FieldsFunc(OverlayUnescape(o), func(r rune) bool { return r == ',' || r == '=' || r == ':' })
}

// hasDotDot: p has a ".." component. A relative path is resolved from the
// runtime's bundle directory (a bind mount's source) or its working
// directory (an overlay's options), which signgate does not know, and
// an absolute one again by the kernel, symlinks and all.
func hasDotDot(p string) bool {
	if !strings.Contains(p, "..") {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return true
		}
	}
	return false
}

// procLink: p lies in a process's /proc directory (/proc/<pid>/...,
// self, thread-self), whose root, cwd and fd links lead into that
// process's root filesystem, another container's (moby's, ctr's: never
// gated) included. A hostPath never arrives so spelled (the runtime's
// CRI resolves a hostPath's links first); a mount another plugin adds may.
func procLink(p string) bool {
	if !strings.Contains(p, "proc") {
		return false // most mounts: no allocation
	}
	parts := strings.Split(path.Clean(p), "/")
	if len(parts) < 3 || parts[0] != "" || parts[1] != "proc" {
		return false
	}
	if parts[2] == "self" || parts[2] == "thread-self" {
		return true
	}
	for _, r := range parts[2] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return parts[2] != ""
}
