package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The NRI plugin judges other plugins' mounts by the [added_mounts] of the
// config in force, and the state dirs it names (signgate's own and CRI-O's
// as configured): a reload that drops a source refuses binds of it at once.
func TestPluginMountSourcesFollowTheConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	write := func(mounts string) {
		t.Helper()
		body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\napi_socket = \"\"\n[daemon.runtime]\ncrio_storage_root = \"/data/containers\"\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n%s",
			filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), mounts)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[added_mounts]\nallowed_sources = [\"/usr/lib/nvidia\"]\n")
	d, err := New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	allowed, state := d.Plugin().MountSources()
	if !slices.Equal(allowed, []string{"/usr/lib/nvidia"}) || !slices.Contains(state, "/data/containers") || !slices.Contains(state, filepath.Join(dir, "state")) {
		t.Errorf("at start: %q %q", allowed, state)
	}
	write("")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if allowed, _ := d.Plugin().MountSources(); len(allowed) != 0 {
		t.Errorf("after a reload without [added_mounts]: %q", allowed)
	}
}
