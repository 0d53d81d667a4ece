package doctor

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveCRIOConfig answers GET /config on a unix socket as CRI-O does.
func serveCRIOConfig(t *testing.T, body string) string {
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
		w.Header().Set("Content-Type", "application/toml")
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

// CRI-O's files may not be what it runs: its command line, environment,
// or a drop-in written since it started (NRI is read at start only).
// doctor asks CRI-O (GET /config) and prefers its answer; without it, it
// does not say the node fails closed.
func TestCRIORunningConfigDecides(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"crio.conf.d/10-signgate.conf": dropIn})
	files, err := ReadCRIO(filepath.Join(dir, "crio.conf"), filepath.Join(dir, "crio.conf.d"))
	if err != nil {
		t.Fatal(err)
	}
	node := func(cfg *CRIO, why string) []Finding {
		return Check(Node{Runtime: "crio", CRIO: cfg, CRIOFiles: files, CRIORunningErr: why, Deadline: time.Second, Plugin: "signgate",
			CRIOStorageReadable: true, Running: connected("1.35.2")})
	}

	// Only the files: whatever they say, fails closed is unknown.
	fs := Check(Node{Runtime: "crio", CRIO: files, CRIORunningErr: "dial unix /x: permission denied", Deadline: time.Second, Plugin: "signgate",
		CRIOStorageReadable: true, Running: connected("1.35.2")})
	for _, g := range []string{"fails closed", "doctor reads the NRI config CRI-O runs"} {
		if f := find(t, fs, g); f.Holds || !strings.Contains(f.Detail, "unknown") {
			t.Errorf("files only: %+v", f)
		}
	}

	// CRI-O started with --nri-enable-default-validator=false: its
	// running config says so, whatever the files say.
	running := "[crio]\n[crio.nri]\nenable_nri = true\nnri_plugin_request_timeout = \"2s\"\n[crio.nri.default_validator]\nnri_enable_default_validator = false\nnri_validator_required_plugins = [\"signgate\"]\n"
	sock := serveCRIOConfig(t, running)
	cfg, err := ReadCRIORunning(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	fs = node(cfg, "")
	if f := find(t, fs, "fails closed"); f.Holds {
		t.Errorf("CRI-O runs without the validator, yet %+v", f)
	}
	if f := find(t, fs, "doctor reads the NRI config CRI-O runs"); f.Holds || !strings.Contains(f.Detail, "next restart") {
		t.Errorf("files and running config differ: %+v", f)
	}
	if f := find(t, fs, "CRI-O's NRI default validator is on"); !strings.Contains(f.Detail, "running config (GET /config on "+sock) {
		t.Errorf("where: %+v", f)
	}

	// Running as the files say: holds.
	cfg, err = ReadCRIORunning(context.Background(), serveCRIOConfig(t, strings.Replace(running, "validator = false", "validator = true", 1)))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"fails closed", "doctor reads the NRI config CRI-O runs"} {
		if f := find(t, node(cfg, ""), g); !f.Holds {
			t.Errorf("running as the files say: %+v", f)
		}
	}
	if _, err := ReadCRIORunning(context.Background(), filepath.Join(dir, "none.sock")); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("no socket: %v", err)
	}
}
