package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/signgate/signgate/integration/harness"
)

// profile creates containers under a signgate built with -tags profile
// for the given time, reading its CPU profile meanwhile, writes it to out
// and prints its top entries. (make profile)
func profile(bin, out string, d time.Duration) {
	port, err := harness.FreePort()
	check(err)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	check(os.Setenv("SIGNGATE_PPROF", addr))
	e, err := harness.Start(harness.Options{Bin: bin, DropIn: "packaging/containerd/signgate.toml"})
	if err != nil {
		stop(e)
		fail(err.Error())
	}
	defer stop(e)
	_, err = e.Image("bench/create", "k1")
	check(err)
	pod, cfg, err := e.Pod("default")
	check(err)
	ref := e.Registry + "/bench/create:v1"
	_, err = e.Create(pod, cfg, ref)
	check(err)

	got := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
		if err != nil {
			got <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(out)
		if err != nil {
			got <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		got <- err
	}()
	n := 0
	for deadline := time.Now().Add(d); time.Now().Before(deadline); n++ {
		_, err := e.Create(pod, cfg, ref)
		check(err)
	}
	check(<-got)
	fmt.Printf("%d creations in %s; CPU profile of signgate: %s\n", n, d, out)
	cmd := exec.Command("go", "tool", "pprof", "-top", "-nodecount=45", bin+"/signgate", out)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	_ = cmd.Run()
}
