//go:build profile

package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// Only in a build with -tags profile (make profile): Go's profiler on the
// loopback address SIGNGATE_PPROF names, for the bench to read while it
// creates containers. Release builds have no such listener.
func init() {
	addr := os.Getenv("SIGNGATE_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "SIGNGATE_PPROF=%s: want a loopback address and port\n", addr)
		os.Exit(2)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "SIGNGATE_PPROF: %v\n", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(l, mux) }()
}
