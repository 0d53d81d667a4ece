package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/doctor"
	"github.com/signgate/signgate/localapi"
)

const healthcheckHelp = `usage: signgate healthcheck [--config F] [--socket PATH] [--address HOST:PORT] [--live]

Asks a running daemon whether it is ready (connected to NRI and deciding),
or with --live whether it is alive: over its API socket first, then its
metrics listener (which another process may hold). For a container's exec
probe, where distroless images have no curl. The socket and address are
the flags', else the config's (when --config or $SIGNGATE_CONFIG names
one, or the default config exists), else the defaults.

Exit 0: ready (or alive); 1: not, or not reachable; 2: usage error.
`

// runHealthcheck asks a running daemon whether it is ready (connected to NRI
// and deciding): for a container's exec probe, where the listener is on
// loopback and distroless images have no curl. It asks the API socket
// first: readiness must reflect the gate, not whether metrics_address could
// be bound (another process may hold it, and may even answer on it).
func runHealthcheck(args []string) int {
	c := newCommand("healthcheck", healthcheckHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file, for daemon.api_socket and daemon.metrics_address; read if it exists or is named")
	socket := c.fs.String("socket", config.DefaultAPISocket, "the daemon's api_socket, asked first (\"\" to skip); unset: $SIGNGATE_API_SOCKET, else the config's")
	addr := c.fs.String("address", config.DefaultMetricsAddress, "the daemon's metrics_address, asked when the socket does not answer (\"\" to skip); unset: the config's")
	live := c.fs.Bool("live", false, "check liveness (/healthz) instead of readiness (/readyz)")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	if err := healthTargets(c, *cfgPath, socket, addr); err != nil {
		return c.usageError(args, err)
	}
	path := localapi.PathReadyz
	if *live {
		path = localapi.PathHealthz
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var tried []string
	if *socket != "" {
		code, err := healthAsk(ctx, unixClient(*socket), "http://signgate"+path)
		if err == nil {
			return code
		}
		tried = append(tried, fmt.Sprintf("api socket %s: %v", *socket, err))
	}
	if *addr != "" {
		code, err := healthAsk(ctx, http.DefaultClient, "http://"+*addr+path)
		if err == nil {
			return code
		}
		tried = append(tried, fmt.Sprintf("metrics_address %s: %v", *addr, err))
	}
	fmt.Fprintln(os.Stderr, "signgate healthcheck: no answer from signgate:", strings.Join(tried, "; "))
	return exitDenied
}

// errNotSigngate: something answered, but not signgate's health handler.
var errNotSigngate = errors.New("answered, but not as signgate (another process holds it?)")

// healthAsk returns the exit code for signgate's answer at url, or an error
// when signgate did not answer there.
func healthAsk(ctx context.Context, c *http.Client, url string) (int, error) {
	ok, body, err := healthAnswer(ctx, c, url)
	if err != nil {
		return 0, err
	}
	fmt.Println(body)
	if !ok {
		return exitDenied, nil
	}
	return exitOK, nil
}

// healthAnswer asks signgate's health handler at url: whether it said OK,
// and what it said; an error when signgate did not answer there.
func healthAnswer(ctx context.Context, c *http.Client, url string) (bool, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	if resp.Header.Get(localapi.HeaderSigngate) == "" {
		return false, "", fmt.Errorf("%w: HTTP %s", errNotSigngate, resp.Status)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK, strings.TrimSpace(string(b)), nil
}

// askRunning asks the daemon for /readyz, for doctor: over its API socket
// first, then its metrics listener, as healthcheck does.
func askRunning(d config.Daemon) doctor.Running {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var tried []string
	if d.APISocket != "" {
		where := "api socket " + d.APISocket
		ok, body, err := healthAnswer(ctx, unixClient(d.APISocket), "http://signgate"+localapi.PathReadyz)
		if err == nil {
			return doctor.Running{Where: where, Answered: true, Ready: ok, Detail: body}
		}
		tried = append(tried, fmt.Sprintf("daemon.api_socket = %q: %v", d.APISocket, err))
	}
	if d.MetricsAddress != "" {
		where := "metrics_address " + d.MetricsAddress
		ok, body, err := healthAnswer(ctx, http.DefaultClient, "http://"+d.MetricsAddress+localapi.PathReadyz)
		if err == nil {
			return doctor.Running{Where: where, Answered: true, Ready: ok, Detail: body}
		}
		tried = append(tried, fmt.Sprintf("daemon.metrics_address = %q: %v", d.MetricsAddress, err))
	}
	if len(tried) == 0 {
		tried = append(tried, "neither daemon.api_socket nor daemon.metrics_address is set, so there is nothing to ask")
	}
	return doctor.Running{Detail: strings.Join(tried, "; ")}
}

// probeListeners asks each of the daemon's listeners for /healthz, for
// doctor: signgate there, another process, or nothing.
func probeListeners(d config.Daemon) []doctor.Listener {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out []doctor.Listener
	probe := func(l doctor.Listener, c *http.Client, url string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		switch {
		case err != nil:
			l.Err = err.Error()
		case resp.Header.Get(localapi.HeaderSigngate) != "":
			l.State = doctor.ListenerSigngate
		default:
			l.State = doctor.ListenerOther
		}
		if resp != nil {
			resp.Body.Close()
		}
		out = append(out, l)
	}
	if d.MetricsAddress != "" {
		probe(doctor.Listener{Name: "metrics", Key: "daemon.metrics_address", Address: d.MetricsAddress}, http.DefaultClient, "http://"+d.MetricsAddress+localapi.PathHealthz)
	}
	if d.APISocket != "" {
		probe(doctor.Listener{Name: "api", Key: "daemon.api_socket", Address: d.APISocket}, unixClient(d.APISocket), "http://signgate"+localapi.PathHealthz)
	}
	return out
}

// unixClient speaks HTTP over the unix socket at path.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
}
