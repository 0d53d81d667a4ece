package daemon

import (
	"context"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/signgate/signgate/keystore/tufroot"
	"github.com/signgate/signgate/setup"
	"github.com/signgate/signgate/verify"
)

// trustRootLoop keeps the trust roots that come from TUF repositories
// current: each is updated at start and then every refresh (±10%), and
// after a failure sooner, backing off from 5s. A new trust root is written
// to the state directory and loaded by a reload (so no verdict made under
// the old one is reused); a failed update leaves the last-known-good in
// force until it is stale (the engine judges that at decision time; this
// loop says it in the log and the metrics). The sources are the config's in force, so a reload that adds one
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
		d.checkTrustRoots(time.Now())
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
func (d *Daemon) refreshTrustRoot(src setup.TUFSource, fails map[string]int) time.Duration {
	kept, changed, err := src.Refresh(time.Now())
	switch {
	case err == nil && !changed:
		d.metrics.rootRefresh.WithLabelValues(src.Name, "unchanged").Inc()
		d.renewTrustRoot(src, kept)
	case err != nil:
		d.metrics.rootRefresh.WithLabelValues(src.Name, "error").Inc()
		fails[src.Name]++
		retry := min(5*time.Second<<min(fails[src.Name]-1, 10), src.Every)
		lkg, until := "none: identities under it verify nothing", "never"
		if tr := d.config().TrustRoots[src.Name]; tr != nil && tr.Material != nil {
			lkg, until = tr.Digest, tr.NotAfter.UTC().Format(time.RFC3339)+" ("+tr.Limit+")"
		}
		d.log.Warn("trust root update failed; the last-known-good stays in force until it is stale", "trust_root", src.Name,
			"mirror", src.Mirror, "err", err, "in_force", lkg, "trusted_until", until, "retry_in", retry)
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

// renewTrustRoot puts in force that a TUF update vouched again for the
// trust root in force, so it is trusted for longer: in the config (which
// later snapshots are built from) and in the engine's snapshot, keeping
// its verdicts.
func (d *Daemon) renewTrustRoot(src setup.TUFSource, kept *tufroot.Kept) {
	if !d.renewed(src, kept) {
		_ = d.Reload() // the kept content is not what is in force: load it
	}
}

func (d *Daemon) renewed(src setup.TUFSource, kept *tufroot.Kept) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg := d.config()
	tr, err := src.TrustRoot(kept)
	if old := cfg.TrustRoots[src.Name]; err != nil || old == nil || old.Digest != tr.Digest {
		return false
	}
	c := *cfg
	c.TrustRoots = maps.Clone(cfg.TrustRoots)
	c.TrustRoots[src.Name] = tr
	d.cfg.Store(&c)
	e := d.Engine()
	e.Swap(e.Snapshot().WithRoots([]*verify.TrustRoot{tr}, time.Now()))
	return true
}

// checkTrustRoots says, when a trust root goes stale or fresh again, so in
// the log and the metrics; the engine decides by itself, at decision time.
func (d *Daemon) checkTrustRoots(now time.Time) {
	for n, tr := range d.config().TrustRoots {
		if tr.NotAfter.IsZero() {
			continue
		}
		d.metrics.rootUntil.WithLabelValues(n).Set(float64(tr.NotAfter.Unix()))
		why := tr.Stale(now)
		was, seen := d.rootStale.Swap(n, why != "")
		if seen && was.(bool) == (why != "") {
			continue
		}
		if seen {
			d.judgeSoon("trust root " + n + " went stale or fresh")
		}
		if why != "" {
			d.metrics.rootStale.WithLabelValues(n).Set(1)
			d.log.Warn("trust root is stale: keyless identities under it verify nothing until its TUF repository vouches for it again", "trust_root", n, "why", why)
			continue
		}
		d.metrics.rootStale.WithLabelValues(n).Set(0)
		if seen {
			d.log.Info("trust root is fresh again", "trust_root", n, "trusted_until", tr.NotAfter.UTC().Format(time.RFC3339))
		}
	}
}
