package nri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestAddedListedBindsAreReadOnly: the pod's annotations pick an added
// mount's options. A listed library directory bound rw lets container
// root (host uid 0) replace libc or a hook's program, which the host's
// root runs next: a bind of a listed source is refused unless "ro" (and,
// when recursive, "rro": the submounts "ro" leaves writable). An overlay
// that writes a host directory (upperdir, workdir) is refused.
func TestAddedListedBindsAreReadOnly(t *testing.T) {
	listed := t.TempDir()
	owners := api.NewOwningPlugins()
	if err := owners.ClaimMount("c-good", "/h", "device-injector"); err != nil {
		t.Fatal(err)
	}
	bind := func(typ string, opts ...string) *api.Mount {
		return &api.Mount{Destination: "/h", Source: listed, Type: typ, Options: opts}
	}
	for what, m := range map[string]*api.Mount{
		"rbind, rw":                  bind("bind", "rbind", "rw"),
		"rbind, no ro":               bind("bind", "rbind"),
		"rbind, ro without rro":      bind("bind", "rbind", "ro"),
		"rbind, ro and rro, rw":      bind("bind", "rbind", "ro", "rro", "rw"),
		"rbind, ro and rro, rrw":     bind("bind", "rbind", "ro", "rro", "rrw"),
		"bind, rw":                   bind("bind", "bind", "rw"),
		"bind, ro then rw":           bind("bind", "bind", "ro", "rw"),
		"bind and rbind, ro":         bind("bind", "bind", "rbind", "ro"),
		"type bind, no option, ro":   bind("bind", "ro"),
		"type rbind, bind, ro":       bind("rbind", "bind", "ro"),
		"ro in one option with bind": bind("bind", "bind,ro"),
		"none, rbind, ro":            bind("none", "rbind", "ro"),
	} {
		err := validateAdded(t, listing(newFixture(t), listed), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, owners)
		if err == nil || !strings.Contains(err.Error(), "/h") || !strings.Contains(err.Error(), `"device-injector"`) || !strings.Contains(err.Error(), "ro") {
			t.Errorf("%s (%q %q): %v; want a refusal naming /h and the plugin", what, m.Type, m.Options, err)
		}
	}
	for what, m := range map[string]*api.Mount{
		"bind, ro":             bind("bind", "bind", "ro"),
		"bind, ro, nosuid":     bind("bind", "nosuid", "nodev", "ro", "bind"),
		"rbind, ro, rro":       bind("bind", "rbind", "ro", "rro"),
		"none, rbind, ro, rro": bind("none", "rbind", "ro", "rro", "rprivate"),
		"untyped, bind, ro":    bind("", "bind", "ro"),
	} {
		if err := validateAdded(t, listing(newFixture(t), listed), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil); err != nil {
			t.Errorf("%s (%q %q): %v", what, m.Type, m.Options, err)
		}
	}
	for _, d := range []string{"u", "w", "l"} {
		if err := os.Mkdir(filepath.Join(listed, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, u, w := filepath.Join(listed, "l"), filepath.Join(listed, "u"), filepath.Join(listed, "w")
	for _, opts := range [][]string{{"lowerdir=" + l, "upperdir=" + u, "workdir=" + w}, {"lowerdir=" + l + ",upperdir=" + u + ",workdir=" + w}, {"ro", "lowerdir=" + l, "upperdir=" + u, "workdir=" + w}} {
		m := &api.Mount{Destination: "/h", Source: "overlay", Type: "overlay", Options: opts}
		if err := validateAdded(t, listing(newFixture(t), listed), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, nil); err == nil || !strings.Contains(err.Error(), "upperdir") {
			t.Errorf("an overlay writing listed directories (%q): %v", opts, err)
		}
	}
}

// TestAddedPseudoFilesystemsAreRefused: a mount of the host kernel's own
// filesystems has no host path to list, and reaches the host: proc's
// /sys/kernel/core_pattern written by container root runs its program as
// host root; sysfs, debugfs, cgroup, binfmt_misc and the like are as bad.
// Another plugin may add binds, tmpfs, devpts, mqueue and overlays only;
// anything else is refused naming the type, the plugin and where.
func TestAddedPseudoFilesystemsAreRefused(t *testing.T) {
	owners := api.NewOwningPlugins()
	if err := owners.ClaimMount("c-good", "/p", "device-injector"); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"proc", "sysfs", "debugfs", "securityfs", "cgroup", "cgroup2", "binfmt_misc", "tracefs", "bpf", "configfs", "efivarfs", "pstore", "fusectl", "hugetlbfs", "devtmpfs", "nfs", "fuse", "9p", "auto", ""} {
		m := &api.Mount{Destination: "/p", Source: typ, Type: typ, Options: []string{"rw"}}
		err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, owners)
		if err == nil || !strings.Contains(err.Error(), "/p") || !strings.Contains(err.Error(), `"device-injector"`) || !strings.Contains(err.Error(), `type "`+typ+`"`) {
			t.Errorf("a %q mount added: %v; want a refusal naming /p, the type and the plugin", typ, err)
		}
	}
	// A bind option does not make a proc a bind for every runtime.
	m := &api.Mount{Destination: "/p", Source: "/proc", Type: "proc", Options: []string{"rbind", "ro", "rro"}}
	if err := validateAdded(t, listing(newFixture(t), "/proc"), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, owners); err == nil || !strings.Contains(err.Error(), `"proc"`) {
		t.Errorf("a proc with a bind option: %v", err)
	}
	for _, m := range []*api.Mount{
		{Destination: "/p", Source: "tmpfs", Type: "tmpfs", Options: []string{"size=1m", "rw"}},
		{Destination: "/p", Source: "devpts", Type: "devpts", Options: []string{"newinstance"}},
		{Destination: "/p", Source: "mqueue", Type: "mqueue"},
	} {
		if err := validateAdded(t, newFixture(t), &api.ContainerAdjustment{Mounts: []*api.Mount{m}}, owners); err != nil {
			t.Errorf("a %s added: %v", m.Type, err)
		}
	}
}
