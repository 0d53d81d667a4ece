package daemon

import (
	"context"
	"fmt"
	"net"
	"time"
)

// The metrics and local API listeners are auxiliary: the gate is the NRI
// connection. One that cannot bind (another process holds metrics_address,
// say OpenTelemetry's exporter on 9464) must not take the gate down with
// it: a DaemonSet pod in CrashLoopBackOff under required_plugins refuses
// every container on the node. It is retried with backoff instead, and said
// loudly in the log until it binds.
var (
	listenRetryFirst = time.Second
	listenRetryMax   = time.Minute
)

// wait returns a channel that fires after t: time.After, or a test's clock.
func (d *Daemon) wait(t time.Duration) <-chan time.Time {
	if d.after != nil {
		return d.after(t)
	}
	return time.After(t)
}

// listen binds what (a listener's name, "metrics" or "api") with bind and
// hands the listener to serve; on failure it retries with backoff until
// ctx ends, without ever failing the daemon.
func (d *Daemon) listen(ctx context.Context, what, addr string, bind func() (net.Listener, error), serve func(net.Listener)) {
	up := d.metrics.listenerUp.WithLabelValues(what)
	failures := d.metrics.bindFailures.WithLabelValues(what)
	l, err := bind()
	if err == nil {
		up.Set(1)
		serve(l)
		return
	}
	up.Set(0)
	go func() {
		backoff := listenRetryFirst
		for {
			failures.Inc()
			d.log.Error(what+" listener cannot bind; signgate keeps gating without it and retries",
				"listener", what, "address", addr, "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-d.wait(backoff):
			}
			if l, err = bind(); err == nil {
				up.Set(1)
				d.log.Warn(what+" listener bound after failing", "listener", what, "address", addr)
				serve(l)
				return
			}
			backoff = min(backoff*2, listenRetryMax)
		}
	}()
}

// bindTCP binds addr, an error naming what sets it (a config key or flag).
func bindTCP(what, addr string) func() (net.Listener, error) {
	return func() (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", what, addr, err)
		}
		return l, nil
	}
}
