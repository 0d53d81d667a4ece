package main

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"

	"github.com/signgate/signgate/localapi"
)

// serveContainerd answers containerd's version service on a socket.
func serveContainerd(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	versionapi.RegisterVersionServer(srv, fakeContainerd{})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return sock
}

// serveReadyz answers /readyz on a unix socket as signgate does.
func serveReadyz(t *testing.T, status int, body string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(localapi.HeaderSigngate, "1")
		if r.URL.Path != localapi.PathReadyz {
			return
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, body)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return sock
}

// doctor checks that signgate itself is running and connected to NRI, and
// fails (exit 1) when it is not, instead of all OK beside a stopped gate.
func TestDoctorChecksSigngateRuns(t *testing.T) {
	ctd := serveContainerd(t)
	for _, c := range []struct {
		name   string
		api    string
		holds  bool
		code   int
		detail string
	}{
		{"not running", filepath.Join(t.TempDir(), "none.sock"), false, 1, "signgate does not answer"},
		{"not ready", serveReadyz(t, http.StatusServiceUnavailable, "not connected to NRI"), false, 1, "not connected to NRI"},
		{"ready", serveReadyz(t, http.StatusOK, "ok"), true, -1, "answered /readyz"},
	} {
		cfg := writeConfig(t, fmt.Sprintf("[daemon]\ncontainerd_socket = %q\napi_socket = %q\nmetrics_address = \"\"\n", ctd, c.api)+allowAll[len("\n[daemon]\n"):])
		var v struct {
			Findings []struct {
				Guarantee, Detail string
				Holds, Optional   bool
			}
		}
		r := signgate(t, nil, "doctor", "--config", cfg, "--containerd-config", filepath.Join(t.TempDir(), "none.toml"), "--output", "json")
		decode(t, r, "signgate.dev/doctor/v1", &v)
		found := false
		for _, f := range v.Findings {
			if f.Guarantee != "signgate is running and connected to NRI" {
				continue
			}
			found = true
			if f.Holds != c.holds || f.Optional || !strings.Contains(f.Detail, c.detail) {
				t.Errorf("%s: finding %+v; want holds=%v, not optional, detail with %q", c.name, f, c.holds, c.detail)
			}
		}
		if !found || c.code >= 0 && r.code != c.code {
			t.Errorf("%s: exit %d (want %d), running finding found: %v\n%s", c.name, r.code, c.code, found, r.stdout)
		}
		if c.holds {
			continue
		}
		r = signgate(t, []string{"SIGNGATE_CONFIG=" + cfg}, "doctor", "--containerd-config", filepath.Join(t.TempDir(), "none.toml"))
		if r.code != 1 || !strings.Contains(r.stdout, "NO   signgate is running and connected to NRI") {
			t.Errorf("%s, text: exit %d; want 1 and a NO line\n%s%s", c.name, r.code, r.stdout, r.stderr)
		}
	}
}

// doctor's CRI-O drop-in directory defaults to CRI-O's own default
// (/etc/crio/crio.conf.d), not the --crio-config file's name with .d:
// `--crio-config /etc/crio/custom.conf` must not move it.
func TestDoctorCRIODefaults(t *testing.T) {
	r := signgate(t, nil, "doctor", "--help")
	for _, want := range []string{`-crio-config-dir string`, `(default "/etc/crio/crio.conf.d")`, `(default "/var/run/crio/crio.sock")`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor --help lacks %q:\n%s", want, r.stdout)
		}
	}
}
