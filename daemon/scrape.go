package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The scrape listener lets a cluster's Prometheus read the metrics without
// reaching anything else: it serves GET /metrics and nothing more (no
// health, no local API), on an address of its own (the node's IP in the
// DaemonSet), while metrics_address stays on loopback for the probes.
// A listener of its own rather than kube-rbac-proxy: signgate runs on the
// node's network before any pod network or API server token exists (its
// service account mounts no token), and a sidecar that must itself be
// admitted by the gate is one more thing that can keep the node from
// starting. What it serves is counters, which it is safe for the node's
// network to read; the local API stays on its socket.

// SetScrapeAddress sets the scrape listener's address (run
// --metrics-scrape-address); "" for none. Before Run.
func (d *Daemon) SetScrapeAddress(addr string) { d.scrapeAddr = addr }

// ScrapeAddress normalises a host and port given as one string, as the
// DaemonSet passes "$(NODE_IP):9465" where NODE_IP may be an IPv6 address
// without brackets: the port is after the last colon.
func ScrapeAddress(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return "", fmt.Errorf("metrics scrape address %q: want host:port", s)
	}
	host, port := strings.TrimSuffix(strings.TrimPrefix(s[:i], "["), "]"), s[i+1:]
	if port == "" {
		return "", fmt.Errorf("metrics scrape address %q: no port", s)
	}
	if host != "" && net.ParseIP(host) == nil {
		return "", fmt.Errorf("metrics scrape address %q: %q is not an IP address (the node's IP, or empty for every address)", s, host)
	}
	return net.JoinHostPort(host, port), nil
}

// scrapeHandler serves the metrics registry at GET /metrics; every other
// path and method is 404 or 405.
func (d *Daemon) scrapeHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}

func (d *Daemon) serveScrape(ctx context.Context, addr string) {
	h := d.scrapeHandler()
	d.listen(ctx, "scrape", addr, bindTCP("metrics scrape address", addr), func(l net.Listener) {
		d.serve(ctx, l, h, "scrape")
		d.log.Info("serving metrics for scraping (only /metrics)", "address", l.Addr().String())
	})
}
