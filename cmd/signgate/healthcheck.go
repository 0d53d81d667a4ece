package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
)

const healthcheckHelp = `usage: signgate healthcheck [--address HOST:PORT] [--live]

Asks a running daemon whether it is ready (connected to NRI and deciding),
or with --live whether it is alive, over its metrics listener: for a
container's exec probe, where distroless images have no curl.

Exit 0: ready (or alive); 1: not, or not reachable; 2: usage error.
`

// runHealthcheck asks a running daemon whether it is ready (connected to NRI
// and deciding): for a container's exec probe, where the listener is on
// loopback and distroless images have no curl.
func runHealthcheck(args []string) int {
	c := newCommand("healthcheck", healthcheckHelp)
	addr := c.fs.String("address", config.DefaultMetricsAddress, "the daemon's metrics_address")
	live := c.fs.Bool("live", false, "check liveness (/healthz) instead of readiness (/readyz)")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate healthcheck:", err)
		return exitDenied
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Println(strings.TrimSpace(string(b)))
	if resp.StatusCode != http.StatusOK {
		return exitDenied
	}
	return exitOK
}
