package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serveCRIOConfig answers GET /config on a unix socket as CRI-O does.
func serveCRIOConfig(t *testing.T, dir, body string) string {
	t.Helper()
	sock := filepath.Join(dir, "crio.sock")
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
	t.Cleanup(func() { srv.Close() })
	return sock
}

// Without --crio-socket, doctor asks CRI-O's running config on the socket
// [daemon.runtime] crio_socket names: in the DaemonSet's pod that is where
// the chart mounts CRI-O's socket, which need not be CRI-O's default path.
// --crio-socket, when given, still wins.
func TestDoctorAsksCRIOOnItsConfiguredSocket(t *testing.T) {
	dir := t.TempDir()
	sock := serveCRIOConfig(t, dir, "[crio.nri]\nenable_nri = true\n[crio.nri.default_validator]\nnri_enable_default_validator = true\nnri_validator_required_plugins = [\"signgate\"]\n")
	confd := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(confd, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf("[daemon]\napi_socket = %q\nmetrics_address = \"\"\n", filepath.Join(dir, "none.sock"))+allowAll[len("\n[daemon]\n"):]+
		fmt.Sprintf("\n[daemon.runtime]\nname = \"crio\"\ncrio_socket = %q\n", sock))
	args := []string{"doctor", "--config", cfg, "--crio-config", filepath.Join(dir, "crio.conf"), "--crio-config-dir", confd}
	r := signgate(t, nil, args...)
	if !strings.Contains(r.stdout, "(in CRI-O's running config (GET /config on "+sock+"))") || strings.Contains(r.stdout, "running config could not be read") {
		t.Errorf("doctor did not ask CRI-O on crio_socket %s:\n%s%s", sock, r.stdout, r.stderr)
	}
	other := filepath.Join(dir, "other.sock")
	r = signgate(t, nil, append(args, "--crio-socket", other)...)
	if !strings.Contains(r.stdout, "running config could not be read (GET /config on CRI-O's socket "+other) {
		t.Errorf("--crio-socket %s did not win over crio_socket:\n%s%s", other, r.stdout, r.stderr)
	}
}
