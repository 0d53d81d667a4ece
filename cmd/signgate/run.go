package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	godebug "runtime/debug"
	"syscall"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/daemon"
	"github.com/signgate/signgate/setup"
)

const runHelp = `usage: signgate run [--config F] [--metrics-scrape-address HOST:PORT] [--decisions-to-stderr] [--debug]

Runs the daemon: a containerd NRI plugin that verifies the image of every
container at CreateContainer and denies what its policies do not trust
(failing closed), plus the pull-time gate's API socket and the metrics and
health listener. SIGHUP (or daemon.watch_config) reloads the config.

--metrics-scrape-address serves GET /metrics alone (no health, no API) on
HOST:PORT as well, for a cluster's Prometheus: the DaemonSet passes the
node's IP, "$(NODE_IP):9465" (an IPv6 address needs no brackets).

Decisions and key changes go to journald when its socket is there, else
to stderr. --decisions-to-stderr writes them to stderr as well: the
DaemonSet sets it, so they reach kubectl logs and the log pipeline.

Exit 0: stopped by SIGTERM or SIGINT; 1: failed to start or stopped on an
error; 2: usage or config error.
`

func runDaemon(args []string) int {
	c := newCommand("run", runHelp)
	cfgPath := c.configFlag(config.DefaultPath, "config file")
	debug := c.fs.Bool("debug", false, "log debug messages")
	decisionsStderr := c.fs.Bool("decisions-to-stderr", false, "also log each decision on stderr when journald takes them (a DaemonSet)")
	scrape := c.fs.String("metrics-scrape-address", "", "also serve only /metrics on HOST:PORT, for a cluster's Prometheus")
	if _, code, done := c.parse(args, 0, 0); done {
		return code
	}
	scrapeAddr, err := daemon.ScrapeAddress(*scrape)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	// A node daemon lives beside the workloads: collect at half the
	// default heap growth (GOGC=50). With 10,000 verdicts cached that keeps
	// signgate under 64 MiB resident (make bench); the warm decision path
	// hardly allocates, so it pays nothing. $GOGC still overrides.
	if os.Getenv("GOGC") == "" {
		godebug.SetGCPercent(50)
	}

	// A config that does not load is the user's to fix (2); anything
	// else that stops the start (the state directory, keys, a KMS) is a
	// failure (1), so a supervisor can tell the two apart.
	if _, err := setup.Load(*cfgPath); err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitUsage
	}
	d, err := daemon.New(*cfgPath, log, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "signgate:", err)
		return exitError
	}
	d.SetScrapeAddress(scrapeAddr)
	if *decisionsStderr {
		d.LogDecisionsToStderr()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = d.Reload()
		}
	}()
	log.Info("signgate starting", "version", version, "config", *cfgPath, "snapshot", d.Engine().Snapshot().ID)
	if err := d.Run(ctx); err != nil {
		log.Error("signgate stopped", "err", err)
		return exitError
	}
	log.Info("signgate stopped")
	return exitOK
}
