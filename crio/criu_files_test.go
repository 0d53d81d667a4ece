package crio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRestoresReadFromCRIOFilesWithoutSocket: without crio_socket the gate
// reads CRI-O's config file and drop-ins, merged as CRI-O merges them
// (case-folded, later files over earlier ones), and refuses creations
// while they leave enable_criu_support on, unset included (CRI-O's default
// where criu is in its PATH, which signgate cannot see); files it cannot
// read refuse too, naming the path. Before, nothing was read and every
// creation was admitted.
func TestRestoresReadFromCRIOFilesWithoutSocket(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	file, dir := filepath.Join(base, "crio.conf"), filepath.Join(base, "crio.conf.d")
	write := func(p, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := &RestoreGate{ConfigFile: file, ConfigDir: dir}
	check := func() error { g.Reset(); return g.Check(ctx) }

	if err := check(); err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("no files: %v", err)
	}
	write(file, "[crio.runtime]\ncgroup_manager = \"systemd\"\n")
	if err := check(); err == nil || !strings.Contains(err.Error(), "enable_criu_support is on (set in none of "+file) {
		t.Fatalf("unset: %v", err)
	}
	write(filepath.Join(dir, "10-signgate.conf"), "[crio.runtime]\nenable_criu_support = false\n")
	if err := check(); err != nil {
		t.Fatalf("off in the drop-in: %v", err)
	}
	later := filepath.Join(dir, "20-other.conf")
	write(later, "[crio.runtime]\nENABLE_CRIU_SUPPORT = true\n")
	if err := check(); err == nil || !strings.Contains(err.Error(), "is on (in "+later+")") {
		t.Fatalf("on in a later drop-in, in capitals: %v", err)
	}
	if err := os.Remove(later); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "30-gone.conf")
	if err := os.Symlink(filepath.Join(base, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), dangling) {
		t.Fatalf("unreadable drop-in: %v", err)
	}
	g.Unsafe = true
	if err := check(); err != nil {
		t.Fatalf("opted out: %v", err)
	}
}

// TestSlowRestoreReadBlocksNoCreationPastItsDeadline: a creation whose
// deadline comes while CRI-O's config is still being read (a slow CRI-O
// socket) is refused then, not held until the read ends; the read, shared
// by the creations waiting, goes on though the creation that started it
// gave up, and its answer serves the next ones. Before, the gate held its
// lock through the read, and every creation waited for it.
func TestSlowRestoreReadBlocksNoCreationPastItsDeadline(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	reads, off := 0, false
	var readErr error
	g := &RestoreGate{Socket: "/run/crio/crio.sock", Read: func(ctx context.Context) (*bool, string, error) {
		reads++
		close(started)
		<-release
		readErr = ctx.Err()
		return &off, "here", nil
	}}
	first, cancelFirst := context.WithCancel(context.Background())
	firstDone := make(chan error, 1)
	go func() { firstDone <- g.Check(first) }()
	<-started

	late, cancelLate := context.WithCancel(context.Background())
	cancelLate()
	if err := g.Check(late); err == nil || !strings.Contains(err.Error(), "still being read") || !strings.Contains(err.Error(), "/run/crio/crio.sock") {
		t.Fatalf("a creation past its deadline: %v", err)
	}
	cancelFirst()
	if err := <-firstDone; err == nil || !strings.Contains(err.Error(), "still being read") {
		t.Fatalf("the creation that started the read, past its deadline: %v", err)
	}
	close(release)
	// The read is answered under no creation's deadline, and kept: a
	// creation already past its deadline has the answer.
	if err := g.Check(context.Background()); err != nil || reads != 1 || readErr != nil {
		t.Fatalf("after the read: %v, %d reads, the read's context %v", err, reads, readErr)
	}
	if err := g.Check(late); err != nil || reads != 1 {
		t.Fatalf("kept: %v, %d reads", err, reads)
	}
}
