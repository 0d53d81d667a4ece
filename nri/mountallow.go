package nri

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/signgate/signgate/config"
)

// A mount another plugin adds binds only a host directory the policy names
// ([added_mounts] allowed_sources): NRI's device-injector adds what a
// pod's annotations ask for, and a bind of /, of the runtime's state or of
// anything above it lets the pod rewrite every image's files, a signed
// one's too. What the config did not name is not mounted.

// overlayDirKeys are the options whose values the kernel reads as host
// directories (overlayfs; lowerdir+ and datadir+ name one each).
var overlayDirKeys = map[string]bool{"lowerdir": true, "upperdir": true, "workdir": true, "lowerdir+": true, "datadir+": true}

// overlayDirs are the host directories opts name as the kernel reads them,
// or why they cannot be told. The kernel splits the mount data on unescaped
// commas and lowerdir on unescaped colons, and unescapes a backslash: an
// option with one is refused, not parsed, as is a colon in a directory
// that names one (upperdir, workdir) and a relative directory (resolved
// from a working directory signgate does not know).
func overlayDirs(opts []string) ([]string, string) {
	var dirs []string
	for _, o := range opts {
		if strings.Contains(o, `\`) {
			return nil, fmt.Sprintf("has an option with a backslash (%q), which the kernel reads as an escape: what it names is not what it spells", o)
		}
		for _, kv := range strings.Split(o, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !overlayDirKeys[k] {
				continue
			}
			vs := []string{v}
			if k == "lowerdir" {
				vs = strings.Split(v, ":")
			} else if strings.Contains(v, ":") {
				return nil, fmt.Sprintf("has a colon in its %s %q, which signgate does not read as the kernel might", k, v)
			}
			for _, d := range vs {
				if !strings.HasPrefix(d, "/") {
					return nil, fmt.Sprintf("names %q in its %s, not an absolute directory: the kernel resolves it from a directory signgate does not know", d, k)
				}
				dirs = append(dirs, d)
			}
		}
	}
	return dirs, ""
}

// mountSources are the allowed sources and the state dirs in force.
func (p *Plugin) mountSources() (allowed, stateDirs []string) {
	if p.MountSources != nil {
		allowed, stateDirs = p.MountSources()
	}
	return allowed, append(slices.Clone(config.RuntimeStateDirs), stateDirs...)
}

// sourceUnlisted says why the host directory s, which symlinks lead to r,
// may not be bound by a mount another plugin adds, or "": it and r must
// lie under an allowed source, and neither may be, lie above or lie in
// the runtimes' or the kubelet's state, listed or not.
func (p *Plugin) sourceUnlisted(s, r string) string {
	allowed, state := p.mountSources()
	if d := config.StateDirOf(s, state); d != "" {
		return fmt.Sprintf("names %s, which is, lies above or lies in %s, where images' and containers' files are kept: a pod given it could rewrite any image's files", s, d)
	}
	if !underAny(s, allowed) {
		return fmt.Sprintf("names %s, which [added_mounts] allowed_sources does not list: another plugin's mounts bind only the host directories signgate's policy names; add it there if every container it is added to may see it", s)
	}
	if r == path.Clean(s) {
		return ""
	}
	if d := config.StateDirOf(r, state); d != "" {
		return fmt.Sprintf("names %s, which symlinks lead to %s, which is, lies above or lies in %s, where images' and containers' files are kept", s, r, d)
	}
	if !underAny(r, allowed) {
		return fmt.Sprintf("names %s, which symlinks lead to %s, which [added_mounts] allowed_sources does not list: list where the link leads as well", s, r)
	}
	return ""
}

// underAny: p is one of dirs or lies in one.
func underAny(p string, dirs []string) bool {
	c := path.Clean(p)
	return slices.ContainsFunc(dirs, func(d string) bool {
		d = path.Clean(d)
		return c == d || strings.HasPrefix(c, strings.TrimSuffix(d, "/")+"/")
	})
}

// MountSourceRefused says why dir may not be listed in [added_mounts]
// allowed_sources, or "": nothing in it would ever be mounted, for it (or
// what its symlinks lead to) lies where containers write, in /proc, or in,
// at or above the runtimes' state.
func MountSourceRefused(dir string, stateDirs []string) string {
	if where := writtenByContainers(dir); where != "" {
		return "it lies in " + where
	}
	r, err := onHost(dir)
	if err != nil {
		return fmt.Sprintf("its symlinks cannot be followed (%v)", err)
	}
	if r == path.Clean(dir) {
		return ""
	}
	if why := (&Plugin{}).resolvedRefused(r); why != "" {
		return fmt.Sprintf("it is a link to %s, which %s", r, why)
	}
	if d := config.StateDirOf(r, append(slices.Clone(config.RuntimeStateDirs), stateDirs...)); d != "" {
		return fmt.Sprintf("it is a link to %s, which is, lies above or lies in %s, where images' and containers' files are kept", r, d)
	}
	return ""
}
