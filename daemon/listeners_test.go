package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// A client that keeps connections open, idle or many at once, must not
// grow the daemon: idle kept-alive connections are closed, and connections
// beyond the limit wait for one to end.
func TestListenersDropIdleAndExcessConnections(t *testing.T) {
	oldIdle, oldMax := idleTimeout, maxConns
	idleTimeout, maxConns = 300*time.Millisecond, 2
	t.Cleanup(func() { idleTimeout, maxConns = oldIdle, oldMax })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d := &Daemon{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d.serve(ctx, l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }), "test")
	addr := l.Addr().String()

	get := func(c net.Conn, within time.Duration) (*bufio.Reader, error) {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: signgate\r\n\r\n")
		_ = c.SetReadDeadline(time.Now().Add(within))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, err
		}
		_, err = io.ReadAll(resp.Body)
		return br, err
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br, err := get(c, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("an idle kept-alive connection was not closed by the server: %v", err)
	}

	held := make([]net.Conn, maxConns)
	for i := range held {
		if held[i], err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		if _, err := get(held[i], 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	// Both slots are taken (until the idle timeout): a third connection
	// is accepted by the kernel but not served yet.
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	start := time.Now()
	if _, err := get(extra, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < idleTimeout/2 {
		t.Fatalf("served at once (%s) with %d connections already open", waited, maxConns)
	}
	for _, h := range held {
		h.Close()
	}
}
