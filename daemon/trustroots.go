package daemon

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore/tufroot"
)

// trustRootLoop keeps the trust roots that come from TUF repositories
// current: each is updated at start and then every refresh (±10%), and
// after a failure sooner, backing off from 5s. A new trust root is written
// to the state directory and loaded by a reload (so no verdict made under
// the old one is reused); a failed update leaves the last-known-good in
// force. The sources are the config's in force, so a reload that adds one
// starts it.
func (d *Daemon) trustRootLoop(ctx context.Context) {
	due := map[string]time.Time{}
	fails := map[string]int{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, src := range d.config().TUF {
			if time.Now().Before(due[src.Name]) {
				continue
			}
			due[src.Name] = time.Now().Add(d.refreshTrustRoot(src, fails))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// rootStatus is what `signgate keys list` shows of a TUF trust root.
type rootStatus struct {
	last time.Time // last verified from the repository
	err  string    // the last update's failure, if it failed
}

// refreshTrustRoot updates one trust root and says when to try next.
func (d *Daemon) refreshTrustRoot(src config.TUFSource, fails map[string]int) time.Duration {
	_, err := src.Refresh()
	switch {
	case errors.Is(err, tufroot.ErrUnchanged):
		d.metrics.rootRefresh.WithLabelValues(src.Name, "unchanged").Inc()
	case err != nil:
		d.metrics.rootRefresh.WithLabelValues(src.Name, "error").Inc()
		fails[src.Name]++
		retry := min(5*time.Second<<min(fails[src.Name]-1, 10), src.Every)
		lkg := "none: identities under it verify nothing"
		if tr := d.config().TrustRoots[src.Name]; tr != nil && tr.Material != nil {
			lkg = tr.Digest
		}
		d.log.Warn("trust root update failed; the last-known-good stays in force", "trust_root", src.Name,
			"mirror", src.Mirror, "err", err, "in_force", lkg, "retry_in", retry)
		st, _ := d.rootStatus.Load(src.Name)
		last, _ := st.(rootStatus)
		d.rootStatus.Store(src.Name, rootStatus{last: last.last, err: err.Error()})
		return retry
	default:
		d.metrics.rootRefresh.WithLabelValues(src.Name, "updated").Inc()
		d.log.Info("trust root updated from its TUF repository", "trust_root", src.Name, "mirror", src.Mirror, "path", src.Path())
		_ = d.Reload()
	}
	fails[src.Name] = 0
	d.metrics.rootLast.WithLabelValues(src.Name).SetToCurrentTime()
	d.rootStatus.Store(src.Name, rootStatus{last: time.Now()})
	return time.Duration(float64(src.Every) * (0.9 + 0.2*rand.Float64()))
}
