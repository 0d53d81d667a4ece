package config

import (
	"fmt"
	"path"
	"strings"
)

// AddedMountsSection is [added_mounts]: the host directories a bind mount
// (or an overlay's directories) that another NRI plugin adds may come
// from. NRI's device-injector adds the mounts a pod's annotations name, so
// a host directory not named here is refused (nri/addedmounts.go): a bind
// of / or of the runtime's state would let a pod rewrite any image's files.
// It is policy: with [policy_source] the signed artifact carries it.
type AddedMountsSection struct {
	AllowedSources []string `toml:"allowed_sources"`
}

// AddedMounts is [added_mounts] checked. AllowedSources empty refuses every
// host directory another plugin binds. StateDirs are the runtimes' and the
// kubelet's state, as this config knows it: no added mount may bind them,
// what lies above them or what lies in them (but a verified image volume).
type AddedMounts struct {
	AllowedSources []string
	StateDirs      []string
}

// RuntimeStateDirs are where containerd, CRI-O (containers/storage) and
// the kubelet keep images' and containers' files by default.
var RuntimeStateDirs = []string{"/var/lib/containerd", "/run/containerd", "/var/lib/containers", "/run/containers", "/var/lib/kubelet"}

// mountSourceUnfollowable are the characters that split or escape a
// mount's options (overlay's lowerdir, the kernel's option list): a
// directory so named is not read as written.
const mountSourceUnfollowable = `\,:="'`

// addedMounts checks each allowed source: an absolute, clean directory
// outside /proc, neither the state of a runtime, the kubelet or signgate,
// nor above or in it.
func addedMounts(p *Problems, s *AddedMountsSection, rt Runtime, stateDir string) AddedMounts {
	out := AddedMounts{StateDirs: append(append([]string{}, RuntimeStateDirs...), rt.CRIOStorageRoot, rt.CRIOStorageRunRoot, stateDir)}
	if s == nil {
		return out
	}
	for i, dir := range s.AllowedSources {
		key := fmt.Sprintf("added_mounts.allowed_sources[%d] = %q", i, dir)
		switch {
		case !strings.HasPrefix(dir, "/"):
			p.Errorf("%s: want an absolute directory", key)
			continue
		case path.Clean(dir) != dir:
			p.Errorf("%s: write it clean, as %q: a source is compared as written", key, path.Clean(dir))
			continue
		case strings.ContainsAny(dir, mountSourceUnfollowable) || strings.ContainsFunc(dir, isSpaceOrControl):
			p.Errorf("%s: no backslash, comma, colon, equals sign, quote, space or control characters, which split or escape a mount's options", key)
			continue
		case dir == "/proc" || strings.HasPrefix(dir, "/proc/"):
			p.Errorf("%s: lies in /proc, where processes' root filesystems show", key)
			continue
		}
		if r := StateDirOf(dir, out.StateDirs); r != "" {
			p.Errorf("%s: is, lies above or lies in %s, where images' and containers' files are kept: a pod given it could rewrite any image", key, r)
			continue
		}
		out.AllowedSources = append(out.AllowedSources, dir)
	}
	return out
}

// StateDirOf is the first of dirs that p is, lies above or lies in, or "".
func StateDirOf(p string, dirs []string) string {
	c := path.Clean(p)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		d = path.Clean(d)
		if c == d || c == "/" || d == "/" || strings.HasPrefix(d, c+"/") || strings.HasPrefix(c, d+"/") {
			return d
		}
	}
	return ""
}
