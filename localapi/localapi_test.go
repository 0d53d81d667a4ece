package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
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

// Call against the daemon's kind of server: an answer, an error status
// with its message, a deadline, and a server that is not there.
func TestCallAgainstNetHTTP(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathVerify, func(w http.ResponseWriter, r *http.Request) {
		var req VerifyRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(VerifyResponse{Allowed: req.Image == "good", Reason: "for " + req.Image + "@" + req.Digest})
	})
	mux.HandleFunc("GET "+PathKeys, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(KeysResponse{Keys: []KeyInfo{{Name: "k1", State: "static"}}})
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) { time.Sleep(2 * time.Second) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	defer srv.Close()
	ctx := context.Background()

	var v VerifyResponse
	if err := Call(ctx, sock, "POST", PathVerify, VerifyRequest{Image: "good", Digest: "sha256:1"}, &v); err != nil || !v.Allowed || v.Reason != "for good@sha256:1" {
		t.Fatalf("verify: %v %+v", err, v)
	}
	var k KeysResponse
	if err := Call(ctx, sock, "GET", PathKeys, nil, &k); err != nil || len(k.Keys) != 1 || k.Keys[0].Name != "k1" {
		t.Fatalf("keys: %v %+v", err, k)
	}
	if err := Call(ctx, sock, "POST", PathVerify, "not an object", &v); err == nil || !strings.Contains(err.Error(), "400 Bad Request: bad request: json") {
		t.Fatalf("error status: %v", err)
	}
	if err := Call(ctx, sock, "GET", "/nowhere", nil, &v); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown route: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Call(short, sock, "GET", "/slow", nil, &v); err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("deadline: %v after %s", err, time.Since(start))
	}
	if err := Call(ctx, filepath.Join(t.TempDir(), "absent.sock"), "GET", PathKeys, nil, &k); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("absent daemon: %v", err)
	}
}
