package daemon

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The scrape listener, which a DaemonSet binds on the node's IP, serves the
// metrics and nothing else: not health, not the local API's verify or keys.
func TestScrapeListenerServesOnlyMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := listenerDaemon(t, t.TempDir(), "", io.Discard)
	d.SetScrapeAddress(addr)
	// Run is stopped, and has returned, before the test's files go.
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })

	do := func(method, path string) (int, string) {
		t.Helper()
		var resp *http.Response
		for deadline := time.Now().Add(10 * time.Second); ; {
			req, _ := http.NewRequest(method, "http://"+addr+path, nil)
			if resp, err = http.DefaultClient.Do(req); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			time.Sleep(10 * time.Millisecond) // Run binds on its own goroutine
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, got := do("GET", "/metrics")
	if code != http.StatusOK || !strings.Contains(got, `signgate_listener_up{listener="scrape"} 1`) || !strings.Contains(got, "signgate_nri_connected 0") {
		t.Fatalf("GET /metrics on the scrape listener: %d\n%s", code, got)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/healthz", 404}, {"GET", "/readyz", 404}, {"POST", "/v1/verify", 404},
		{"GET", "/v1/keys", 404}, {"POST", "/v1/keys/sync", 404}, {"GET", "/debug/pprof/", 404}, {"POST", "/metrics", 405},
	} {
		if code, body := do(c.method, c.path); code != c.want {
			t.Errorf("%s %s on the scrape listener: %d %q, want %d", c.method, c.path, code, body, c.want)
		}
	}
}

func TestScrapeAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":               "",
		"10.0.0.5:9465":  "10.0.0.5:9465",
		"fd00::5:9465":   "[fd00::5]:9465", // $(NODE_IP):9465 with an IPv6 node IP
		"[fd00::5]:9465": "[fd00::5]:9465",
		":9465":          ":9465",
		"0.0.0.0:9465":   "0.0.0.0:9465",
	} {
		if got, err := ScrapeAddress(in); err != nil || got != want {
			t.Errorf("ScrapeAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"9465", "10.0.0.5:", "node-1:9465", "$(NODE_IP):9465"} {
		if got, err := ScrapeAddress(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ScrapeAddress(%q) = %q, %v; want an error naming it", bad, got, err)
		}
	}
}
