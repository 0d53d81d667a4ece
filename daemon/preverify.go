package daemon

import (
	"context"
	"time"
)

// preverify verifies every image containerd pulls, in the background, so a
// CreateContainer nearly always finds a cached verdict and NRI's lock (which
// serialises container creation on the node) is held for microseconds.
// Requests for the same digest share one verification with CreateContainer's.
func (d *Daemon) preverify(ctx context.Context) {
	workers := d.config().Daemon.PreverifyWorkers
	sem := make(chan struct{}, workers)
	d.store.WatchImages(ctx, func(name string) {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		go func() {
			defer func() { <-sem }()
			timeout := d.config().Engine.VerifyTimeout + time.Second
			vctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			img, err := d.store.Resolve(vctx, name)
			if err != nil {
				d.log.Debug("pre-verification: cannot resolve image", "image", name, "err", err)
				return
			}
			v := d.Engine().DecideAnyNamespace(vctx, img)
			d.log.Debug("pre-verified", "image", name, "digest", v.Digest, "decision", v.Decision(), "cached", v.Cached)
		}()
	}, func(err error, retry time.Duration) {
		d.log.Warn("image events: subscription lost; resubscribing", "err", err, "retry_in", retry)
	})
}
