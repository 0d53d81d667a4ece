package localapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Each call's connection is closed once it is answered: the transport is
// the call's own, so a kept-alive connection would idle in both processes
// (the daemon held one per pull before).
func TestCallLeavesNoConnectionOpen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var open atomic.Int64
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_ = json.NewEncoder(w).Encode(VerifyResponse{Allowed: true})
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
	}
	go srv.Serve(l)
	defer srv.Close()
	for i := 0; i < 3; i++ {
		var out VerifyResponse
		if err := Call(context.Background(), sock, "POST", PathVerify, VerifyRequest{Image: "r/i", Digest: "sha256:1"}, &out); err != nil || !out.Allowed {
			t.Fatalf("call: %v %+v", err, out)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for open.Load() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n != 0 {
		t.Fatalf("%d connections still open after the calls returned", n)
	}
}
