package imagestore

import "strings"

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
