package daemon

import (
	"context"
	"time"
)

// preverify verifies every image containerd pulls, in the background, so a
// CreateContainer nearly always finds a cached verdict and NRI's lock (which
// serialises container creation on the node) is held for microseconds.
// Requests for the same digest share one verification with CreateContainer's.
// After a key change, it verifies the node's images again, so the verdicts
// the change dropped are back before the next containers ask.
//
// It returns what to call with each image name containerd creates or
// updates.
func (d *Daemon) preverify(ctx context.Context) func(name string) {
	sem := make(chan struct{}, d.config().Daemon.PreverifyWorkers)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-d.keysChanged:
			}
			names, err := d.store.Images(ctx)
			if err != nil {
				d.log.Warn("re-verification after a key change: cannot list images", "err", err)
				continue
			}
			done := make(chan struct{}, len(names))
			for _, name := range names {
				d.verifyAhead(ctx, sem, name, func() { done <- struct{}{} })
			}
			for range names {
				select {
				case <-done:
				case <-ctx.Done():
					return
				}
			}
			d.log.Info("re-verified the node's images after a key change", "images", len(names))
		}
	}()
	return func(name string) {
		d.verifyAhead(ctx, sem, name, nil)
	}
}

// verifyAhead decides name for any namespace on one of the workers sem
// admits, and calls done (if set) when it has.
func (d *Daemon) verifyAhead(ctx context.Context, sem chan struct{}, name string, done func()) {
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	go func() {
		defer func() { <-sem }()
		if done != nil {
			defer done()
		}
		vctx, cancel := context.WithTimeout(ctx, d.config().Registry.VerifyTimeout+time.Second)
		defer cancel()
		imgs, err := d.store.Resolve(vctx, name)
		if err != nil {
			d.log.Debug("pre-verification: cannot resolve image", "image", name, "err", err)
			return
		}
		for _, img := range imgs {
			// The platform manifest pulled is the one a container will
			// run: decided for it, the verdict is the one its creation
			// reuses.
			runs, err := d.store.PulledManifest(vctx, img)
			if err != nil {
				d.log.Debug("pre-verification: cannot tell which platform manifest was pulled", "image", name, "err", err)
			}
			v := d.Engine().DecideAnyNamespace(vctx, img, runs.String())
			d.log.Debug("pre-verified", "image", name, "digest", v.Digest, "decision", v.Decision(), "cached", v.Cached)
		}
	}()
}
