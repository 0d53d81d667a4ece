package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifySocket stands in for systemd: a unixgram socket that collects what
// the daemon sends to NOTIFY_SOCKET.
func notifySocket(t *testing.T) <-chan string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs
}

func next(t *testing.T, msgs <-chan string, within time.Duration) string {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(within):
		return ""
	}
}

func testDaemon(t *testing.T) (*Daemon, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[daemon]\ncontainerd_socket = %q\nnri_socket = %q\nstate_dir = %q\n[[policy]]\nname = \"all\"\nscopes = [\"**\"]\nmode = \"allow\"\n",
		filepath.Join(dir, "none.sock"), filepath.Join(dir, "nri.sock"), filepath.Join(dir, "state"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, cfg)
	return d, cfg
}

func TestWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	msgs := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "150000")
	t.Setenv("WATCHDOG_PID", fmt.Sprint(os.Getpid()))
	d, _ := testDaemon(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	d.connected.Store(true)
	go d.watchdog(ctx)
	for i := 0; i < 3; i++ {
		if m := next(t, msgs, time.Second); m != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q", i, m)
		}
	}
	// NRI down: no pings, so systemd restarts a signgate that cannot gate.
	d.connected.Store(false)
	time.Sleep(100 * time.Millisecond)
	for len(msgs) > 0 {
		<-msgs
	}
	if m := next(t, msgs, 400*time.Millisecond); m != "" {
		t.Fatalf("pinged while disconnected: %q", m)
	}
	if err := d.Healthy(ctx); err == nil || !strings.Contains(err.Error(), "NRI") {
		t.Fatalf("Healthy: %v", err)
	}
}

func TestReloadNotifiesSystemd(t *testing.T) {
	msgs := notifySocket(t)
	d, cfg := testDaemon(t)
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if a, b := next(t, msgs, time.Second), next(t, msgs, time.Second); a != "RELOADING=1" || b != "READY=1" {
		t.Fatalf("got %q then %q", a, b)
	}
	// A broken config is refused, the old one stays, and systemd hears READY again.
	if err := os.WriteFile(cfg, []byte("[daemon]\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(); err == nil {
		t.Fatal("a broken config was accepted")
	}
	if a, b := next(t, msgs, time.Second), next(t, msgs, time.Second); a != "RELOADING=1" || b != "READY=1" {
		t.Fatalf("got %q then %q", a, b)
	}
	if d.config().Policies[0].Name != "all" {
		t.Fatal("the old config is no longer in force")
	}
}
