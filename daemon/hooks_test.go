package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The NRI plugin judges other plugins' hooks by the [hooks] of the config
// in force: a reload that drops a program stops hooks running it at once.
func TestPluginHookProgramsFollowTheConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	write := func(hooks string) {
		t.Helper()
		body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nmetrics_address = \"\"\napi_socket = \"\"\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n%s",
			filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), hooks)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[hooks]\nallowed_programs = [\"/usr/bin/nvidia-ctk\"]\n")
	d, err := New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Plugin().HookPrograms(); !slices.Equal(got, []string{"/usr/bin/nvidia-ctk"}) {
		t.Errorf("at start: %q", got)
	}
	write("")
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := d.Plugin().HookPrograms(); len(got) != 0 {
		t.Errorf("after a reload without [hooks]: %q", got)
	}
}
