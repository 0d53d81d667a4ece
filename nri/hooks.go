package nri

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/imagestore"
)

// HookLayout is a runtime that knows where images' files lie on its host
// (CRI-O's storage root): a hook from there is refused as a mount from
// there is. A runtime without it is judged by containerd's layout.
type HookLayout interface {
	ImageVolumeOf(m *api.Mount) (imagestore.ImageVolume, bool, error)
}

// addedHooks refuses an OCI hook another plugin added whose program lies
// where images' files do (a snapshot, a runtime's task directory, CRI-O's
// layers, an image volume) or where the container's own files show
// (/proc/<pid>/root): the runtime runs hooks on the host, as root, and
// nothing there was verified. Its path and each argument that is a path
// (an interpreter's script) are judged as a bind mount of them would be.
// Hooks from the runtime's own configuration (nvidia-ctk, hooks.d) are
// not in the adjustment and are not judged here. owners names the plugin
// that added them, where NRI says.
func (p *Plugin) addedHooks(id string, adj *api.ContainerAdjustment, owners *api.OwningPlugins) error {
	hs := adj.GetHooks()
	if hs == nil {
		return nil
	}
	by := "another NRI plugin"
	if o, ok := ownerOfHooks(owners, id); ok && o != "" {
		by = fmt.Sprintf("NRI plugin %q", o)
	}
	kinds := []struct {
		name  string
		hooks []*api.Hook
	}{
		{"prestart", hs.GetPrestart()}, {"createRuntime", hs.GetCreateRuntime()}, {"createContainer", hs.GetCreateContainer()},
		{"startContainer", hs.GetStartContainer()}, {"poststart", hs.GetPoststart()}, {"poststop", hs.GetPoststop()},
	}
	for _, k := range kinds {
		for i, h := range k.hooks {
			if why := p.hookRefused(h); why != "" {
				return fmt.Errorf("the %s hook [%d] %q added by %s would run on the host unverified: it %s", k.name, i, h.GetPath(), by, why)
			}
		}
	}
	return nil
}

// hookRefused says why a hook may not run, or "".
func (p *Plugin) hookRefused(h *api.Hook) string {
	if !strings.HasPrefix(h.GetPath(), "/") {
		return "is not an absolute path, so where it runs from cannot be told"
	}
	if why := p.pathRefused(h.GetPath()); why != "" {
		return "runs a program that" + why
	}
	// An argument or a variable (LD_PRELOAD, BASH_ENV) names what the host
	// runs as surely as the path, whole or as one of its words (a shell's
	// command, a list of directories).
	for _, a := range h.GetArgs() {
		if why := p.wordsRefused(a); why != "" {
			return fmt.Sprintf("has an argument %q that%s", a, why)
		}
	}
	for _, e := range h.GetEnv() {
		if why := p.wordsRefused(e); why != "" {
			return fmt.Sprintf("has an environment variable %q that%s", e, why)
		}
	}
	if why := codeRefused(h.GetPath(), h.GetArgs(), h.GetEnv()); why != "" {
		return why
	}
	return p.unlisted(h.GetPath())
}

// wordsRefused is pathRefused for s and each word of it that is a path.
func (p *Plugin) wordsRefused(s string) string {
	if !strings.Contains(s, "/") {
		return "" // a flag or a word, not a path
	}
	if why := p.pathRefused(s); why != "" {
		return why
	}
	for _, w := range strings.FieldsFunc(s, hookWordSep) {
		if w == s || !strings.Contains(w, "/") {
			continue
		}
		if why := p.pathRefused(w); why != "" {
			return why
		}
	}
	return ""
}

// hookWordSep parts the words of a shell command or a variable's value.
func hookWordSep(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune("=:,;&|()<>`'\"", r)
}

// pathRefused says, after "that", why s may not be run from, or "".
func (p *Plugin) pathRefused(s string) string {
	if c := path.Clean(s); c == "/proc" || strings.HasPrefix(c, "/proc/") {
		return " lies under /proc, where a process's files (a container's root filesystem) show"
	}
	if where := writtenByContainers(s); where != "" {
		return " lies in " + where
	}
	for _, at := range resolved(s) {
		_, vol, err := p.hostLayout()(&api.Mount{Destination: at, Source: at, Type: "bind", Options: []string{at}})
		if err != nil {
			return " lies where images' files do: " + err.Error()
		}
		if vol {
			return " lies in an image volume, " + at
		}
	}
	return ""
}

// resolved is s and, where signgate sees it on the host, what its
// symlinks lead to: a link elsewhere may point into a snapshot.
func resolved(s string) []string {
	if r, err := filepath.EvalSymlinks(s); err == nil && r != s {
		return []string{s, r}
	}
	return []string{s}
}

// hostLayout is the runtime's layout of images' files, or containerd's.
func (p *Plugin) hostLayout() func(*api.Mount) (imagestore.ImageVolume, bool, error) {
	if l, ok := p.Runtime.(HookLayout); ok {
		return l.ImageVolumeOf
	}
	return imagestore.ImageVolumeOf
}

// ownerOfHooks is the plugin NRI says added the hooks; a runtime may send
// no owners at all.
func ownerOfHooks(o *api.OwningPlugins, id string) (string, bool) {
	if o == nil || o.Owners == nil {
		return "", false
	}
	return o.HooksOwner(id)
}

// writtenByContainers names the runtime's or kubelet's state a path lies
// in, where containers' and images' files are kept (containerd's
// io.containerd.* directories: content, CRI's containers' volumes;
// containers/storage's records; the kubelet's pod volumes, which a
// container writes), or "". No host's hook program is kept there.
func writtenByContainers(s string) string {
	parts := strings.Split(path.Clean(s), "/")
	for i, c := range parts {
		switch {
		case strings.HasPrefix(c, "io.containerd."):
			return "containerd's state (" + c + ")"
		case c == "overlay-containers" || c == "overlay-layers" || c == "overlay-images" || c == "vfs-containers" || c == "vfs-layers":
			return "containers/storage's records (" + c + ")"
		case (c == "volumes" || c == "volume-subpaths") && i >= 2 && parts[i-2] == "pods":
			return "the kubelet's pod volumes, which containers write"
		case c == "plugins" && i >= 1 && parts[i-1] == "kubelet":
			return "the kubelet's plugins' directories (CSI volumes staged), which containers write"
		}
	}
	return ""
}
