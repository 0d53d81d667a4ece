package daemon

import (
	"context"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// notify sends state to systemd when it runs signgate as Type=notify; it
// does nothing elsewhere.
func (d *Daemon) notify(state string) {
	if ok, err := sddaemon.SdNotify(false, state); err != nil {
		d.log.Warn("systemd notify failed", "state", state, "err", err)
	} else if ok {
		d.log.Debug("systemd notified", "state", state)
	}
}

// Healthy reports whether signgate can decide now: the NRI connection is up
// and the decision path (policy snapshot and verdict cache) answers within
// a second.
func (d *Daemon) Healthy(ctx context.Context) error {
	if !d.connected.Load() {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return d.Engine().Probe(ctx)
}

type healthError string

func (e healthError) Error() string { return string(e) }

const errNotConnected = healthError("not connected to containerd's NRI socket")

// watchdog pings systemd's watchdog while signgate is healthy. If the
// decision path wedges or NRI stays disconnected, the pings stop and systemd
// restarts signgate after WatchdogSec.
func (d *Daemon) watchdog(ctx context.Context) {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil || interval == 0 {
		return
	}
	t := time.NewTicker(interval / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.Healthy(ctx); err != nil {
				d.log.Warn("not pinging the systemd watchdog", "err", err)
				continue
			}
			d.notify(sddaemon.SdNotifyWatchdog)
		}
	}
}
