package main

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signgate/signgate/localapi"
)

// serveReadyzTCP answers /readyz on a loopback port as signgate does.
func serveReadyzTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(localapi.HeaderSigngate, "1")
		fmt.Fprintln(w, "ok from the config's metrics_address")
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// healthcheck asks where the config says the daemon listens, not only the
// flags' defaults; a flag given still wins.
func TestHealthcheckReadsTheConfig(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none.sock")
	api := serveReadyz(t, http.StatusOK, "ok from the config's api_socket")
	viaSocket := writeConfig(t, fmt.Sprintf("[daemon]\napi_socket = %q\nmetrics_address = \"\"\n", api)+allowAll[len("\n[daemon]\n"):])
	viaAddress := writeConfig(t, fmt.Sprintf("[daemon]\napi_socket = %q\nmetrics_address = %q\n", none, serveReadyzTCP(t))+allowAll[len("\n[daemon]\n"):])

	for _, c := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"--config: api_socket", nil, []string{"--config", viaSocket}, 0, "ok from the config's api_socket"},
		{"SIGNGATE_CONFIG: metrics_address", []string{"SIGNGATE_CONFIG=" + viaAddress}, nil, 0, "ok from the config's metrics_address"},
		{"--socket wins over the config", nil, []string{"--config", viaSocket, "--socket", none}, 1, none},
		{"a named config that does not load", nil, []string{"--config", "/nonexistent/c.toml"}, 2, "/nonexistent/c.toml"},
	} {
		r := signgate(t, c.env, append([]string{"healthcheck"}, c.args...)...)
		if r.code != c.code || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%s: healthcheck %v: exit %d, want %d and %q\n%s%s", c.name, c.args, r.code, c.code, c.want, r.stdout, r.stderr)
		}
	}
}
