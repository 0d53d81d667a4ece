package crio

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/nri/pkg/api"
)

// TestCreationsRefusedWhileCRIORestores: on a CRI-O whose running config
// has enable_criu_support on, a creation may be a checkpoint's restore
// that only shows the signed base image to NRI: every creation is refused,
// naming the key and where it was read, unless the node opts out with
// crio_checkpoint_restore_unsafe. A config that cannot be read is doubt,
// asked again at the next creation; a new NRI connection asks again.
func TestCreationsRefusedWhileCRIORestores(t *testing.T) {
	ctx := context.Background()
	sock := serveConfig(t, "[crio.runtime]\n  enable_criu_support = true\n")
	s := &Store{Restores: &RestoreGate{Socket: sock}}
	runs := s.Runs(ctx, &api.PodSandbox{}, &api.Container{Id: "c", Name: "app"})
	if d := runs.Root.Doubt; d == nil || !strings.Contains(d.Reason, "enable_criu_support is on (in CRI-O's running config (GET /config on "+sock) || !strings.Contains(d.Reason, "crio_checkpoint_restore_unsafe") {
		t.Fatalf("CRIU on: %+v", runs.Root)
	}
	s.Restores.Unsafe = true
	if err := s.Restores.Check(ctx); err != nil {
		t.Fatalf("opted out: %v", err)
	}

	asked, on, fail := 0, false, error(nil)
	g := &RestoreGate{Socket: "/run/crio/crio.sock", Read: func(context.Context) (*bool, string, error) {
		asked++
		return &on, "here", fail
	}}
	if err := g.Check(ctx); err != nil || g.Check(ctx) != nil || asked != 1 {
		t.Fatalf("CRIU off: %v, asked %d times", err, asked)
	}
	on = true
	if err := g.Check(ctx); err != nil {
		t.Fatalf("asked again before a new connection: %v", err)
	}
	g.Reset()
	if err := g.Check(ctx); err == nil || !strings.Contains(err.Error(), "enable_criu_support is on (here)") {
		t.Fatalf("CRIU on after a new connection: %v", err)
	}
	g.Reset()
	fail = errors.New("connection refused")
	if err := g.Check(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreadable: %v", err)
	}
	fail, on = nil, false
	if err := g.Check(ctx); err != nil {
		t.Fatalf("readable again: %v", err)
	}
}

// serveConfig answers GET /config on a unix socket, as CRI-O does.
func serveConfig(t *testing.T, body string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "crio.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/config" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}
