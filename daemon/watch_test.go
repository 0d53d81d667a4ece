package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A ConfigMap volume as the kubelet updates it: config.toml links to
// ..data/config.toml, and ..data is swapped to a new directory at once.
func TestWatchedConfigReloadsWhenTheKubeletSwapsIt(t *testing.T) {
	dir := t.TempDir()
	body := func(policy string) string {
		return fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\nwatch_config = \"1s\"\n[[policy]]\nname = %q\nscopes = [\"**\"]\nmode = \"allow\"\n",
			filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"), policy)
	}
	version := 0
	publish := func(content string) {
		version++
		v := filepath.Join(dir, fmt.Sprintf("..v%d", version))
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v, "config.toml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(v), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	publish(body("first"))
	cfg := filepath.Join(dir, "config.toml")
	if err := os.Symlink("..data/config.toml", cfg); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	if d.config().Daemon.WatchConfig != time.Second {
		t.Fatalf("watch_config parsed as %s", d.config().Daemon.WatchConfig)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.watchFiles(ctx, 10*time.Millisecond)

	policy := func() string { return d.config().Policies[0].Name }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (policy %q)", what, policy())
			}
		}
	}
	publish(body("second"))
	waitFor("the edited config", func() bool { return policy() == "second" })

	// A broken edit is refused once, not on every tick, and the config in
	// force stays; the next good edit is taken.
	publish("[daemon]\nbogus = 1\n")
	refused := func() float64 { return testutil.ToFloat64(d.metrics.reloads.WithLabelValues("refused")) }
	waitFor("the broken config to be refused", func() bool { return refused() == 1 })
	time.Sleep(100 * time.Millisecond)
	if refused() != 1 || policy() != "second" {
		t.Fatalf("refused %v times; policy %q", refused(), policy())
	}
	publish(body("third"))
	waitFor("the fixed config", func() bool { return policy() == "third" })
}

func TestWatchConfigTooOftenIsRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[daemon]\nstate_dir = \""+filepath.Join(dir, "state")+"\"\nwatch_config = \"10ms\"\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), "daemon.watch_config") {
		t.Fatalf("got %v", err)
	}
}

// The state directory holds the last-known-good keys: one left open by
// whoever made it first (a DaemonSet's hostPath makes it 0755) is closed.
func TestStateDirIsMadePrivate(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nstate_dir = %q\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n", filepath.Join(dir, "none.sock"), state)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, slog.New(slog.DiscardHandler), SlogRecorder{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("state_dir is %v, want 0700", fi.Mode().Perm())
	}
}
