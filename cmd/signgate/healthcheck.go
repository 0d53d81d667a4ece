package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/signgate/signgate/config"
)

// runHealthcheck asks a running daemon whether it is ready (connected to NRI
// and deciding): for a container's exec probe, where the listener is on
// loopback and distroless images have no curl.
func runHealthcheck(args []string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("address", config.DefaultMetricsAddress, "the daemon's metrics_address")
	live := fs.Bool("live", false, "check liveness (/healthz) instead of readiness (/readyz)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return exitUsage
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
