package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// TestAddedMountSourcesShape: each of [added_mounts] allowed_sources is an
// absolute, clean directory that neither is, lies above nor lies in the
// state of containerd, CRI-O (as configured), the kubelet or signgate, and
// holds nothing that splits a mount's options; anything else is refused
// naming the file, the key and the entry. Unset, none is allowed.
func TestAddedMountSourcesShape(t *testing.T) {
	const path = "/etc/signgate/config.toml"
	for dir, want := range map[string]string{
		"usr/lib/nvidia":                 "absolute",
		"/usr/lib/nvidia/":               `as "/usr/lib/nvidia"`,
		"/usr/lib/../lib":                "clean",
		"/opt/a:b":                       "colon",
		`/opt/a\b`:                       "backslash",
		"/opt/a,b":                       "comma",
		"/opt/a b":                       "space",
		"/proc/1/root":                   "/proc",
		"/":                              "/var/lib/containerd",
		"/var":                           "/var/lib/containerd",
		"/var/lib":                       "/var/lib/containerd",
		"/var/lib/containerd":            "/var/lib/containerd",
		"/var/lib/containerd/io.x":       "/var/lib/containerd",
		"/run":                           "/run/containerd",
		"/run/containerd":                "/run/containerd",
		"/var/lib/containers":            "/var/lib/containers",
		"/run/containers":                "/run/containers",
		"/var/lib/kubelet":               "/var/lib/kubelet",
		"/var/lib/kubelet/pods":          "/var/lib/kubelet",
		"/var/lib/kubelet/plugins/x/csi": "/var/lib/kubelet",
		"/var/lib/signgate":              "/var/lib/signgate",
	} {
		body := "[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\", \"" + strings.ReplaceAll(dir, `\`, `\\`) + "\"]\n"
		_, err := config.Parse(path, []byte(body))
		if err == nil {
			t.Errorf("%q accepted", dir)
			continue
		}
		for _, w := range []string{path, "added_mounts.allowed_sources[1]", want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v, want %q", dir, err, w)
			}
		}
	}
	// CRI-O's storage and signgate's state as the config names them.
	for _, body := range []string{
		"[daemon.runtime]\ncrio_storage_root = \"/data/containers\"\n[added_mounts]\nallowed_sources = [\"/data\"]\n",
		"[daemon]\nstate_dir = \"/data/signgate\"\n[added_mounts]\nallowed_sources = [\"/data/signgate/x\"]\n",
	} {
		if _, err := config.Parse(path, []byte(body)); err == nil || !strings.Contains(err.Error(), "/data/") {
			t.Errorf("a source above or in the configured state: %v\n%s", err, body)
		}
	}
	c, err := config.Parse(path, []byte("[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\", \"/run/nvidia\"]\n"))
	if err != nil || !slices.Equal(c.AddedMounts.AllowedSources, []string{"/usr/lib/nvidia", "/run/nvidia"}) {
		t.Fatalf("allowed sources: %v %+v", err, c)
	}
	if !slices.Contains(c.AddedMounts.StateDirs, "/var/lib/containers/storage") || !slices.Contains(c.AddedMounts.StateDirs, "/var/lib/kubelet") {
		t.Errorf("state dirs: %q", c.AddedMounts.StateDirs)
	}
	if c, err = config.Parse(path, nil); err != nil || len(c.AddedMounts.AllowedSources) != 0 {
		t.Errorf("by default: %v %+v", err, c.AddedMounts)
	}
}
