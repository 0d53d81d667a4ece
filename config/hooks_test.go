package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/signgate/signgate/config"
)

// TestHookProgramsShape: each of [hooks] allowed_programs is one program
// by its absolute, clean path, outside CRI-O's storage; anything else is
// refused naming the file, the key and the entry. Unset, none is allowed.
func TestHookProgramsShape(t *testing.T) {
	const path = "/etc/signgate/config.toml"
	for prog, want := range map[string]string{
		"nvidia-ctk":                 "absolute path",
		"/usr/bin/../bin/nvidia-ctk": `as "/usr/bin/nvidia-ctk"`,
		"/usr/bin/":                  "clean",
		"/usr/bin/nvidia-*":          "no glob",
		"/opt/$HOOK":                 "no glob",
		"/opt/my hook":               "space",
		"/var/lib/containers/storage/overlay/x/diff/hook": "CRI-O's storage",
		"/run/containers/storage/x":                       "CRI-O's storage",
	} {
		body := "[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\", \"" + prog + "\"]\n"
		_, err := config.Parse(path, []byte(body))
		if err == nil {
			t.Errorf("%q accepted", prog)
			continue
		}
		for _, w := range []string{path, "hooks.allowed_programs[1]", want} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: %v, want %q", prog, err, w)
			}
		}
	}
	// CRI-O's storage as the config names it.
	if _, err := config.Parse(path, []byte("[daemon.runtime]\ncrio_storage_root = \"/data/containers\"\n[hooks]\nallowed_programs = [\"/data/containers/overlay/x/hook\"]\n")); err == nil || !strings.Contains(err.Error(), "/data/containers") {
		t.Errorf("a program in the configured CRI-O storage: %v", err)
	}
	c, err := config.Parse(path, []byte("[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\", \"/usr/local/bin/gpu-hook\"]\n"))
	if err != nil || !slices.Equal(c.Hooks.AllowedPrograms, []string{"/usr/bin/nvidia-ctk", "/usr/local/bin/gpu-hook"}) {
		t.Errorf("allowed programs: %v %+v", err, c)
	}
	if c, err = config.Parse(path, nil); err != nil || len(c.Hooks.AllowedPrograms) != 0 {
		t.Errorf("by default: %v %+v", err, c.Hooks)
	}
}
