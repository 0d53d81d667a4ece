package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"github.com/signgate/signgate/internal/statefile"
	"github.com/signgate/signgate/verify"
)

// VerdictsFile, in the state directory, keeps the verified verdicts in
// force, so a restarted or upgraded signgate asks the registry nothing
// about images whose keys, trust roots and policy have not changed: a
// fleet's rollout costs the registry nothing (issue 30).
const VerdictsFile = "verdicts.json"

const verdictsFormat = 1

// keepVerdictsEvery is how often the kept verdicts are written when they
// have changed; at most this much is verified again after a crash.
const keepVerdictsEvery = 10 * time.Second

func (d *Daemon) verdictsPath() string {
	return filepath.Join(d.config().Daemon.StateDir, VerdictsFile)
}

// restoreVerdicts takes into engine the verdicts kept on disk, those the
// engine's snapshot binds as when they were made. A file that fails its
// checks is not trusted: every image is verified anew, as on a first start.
func (d *Daemon) restoreVerdicts(engine *verify.Engine) {
	var kept []verify.Kept
	_, err := statefile.Read(d.config().Daemon.StateDir, d.verdictsPath(), verdictsFormat, "verdicts", &kept)
	if errors.Is(err, statefile.ErrNotExist) {
		return
	}
	if err != nil {
		d.log.Warn("kept verdicts refused; every image is verified anew", "err", err)
		return
	}
	n, dropped := engine.Restore(kept)
	d.metrics.verdictsRestored.Add(float64(n))
	d.log.Info("restored kept verdicts", "file", d.verdictsPath(), "restored", n, "dropped", len(dropped))
	for _, err := range dropped {
		d.log.Debug("kept verdict dropped", "err", err)
	}
}

// keepVerdicts writes the engine's verified verdicts whenever they have
// changed, and once more when ctx ends (signgate stopping).
func (d *Daemon) keepVerdicts(ctx context.Context) {
	// What was restored at start is on disk already.
	wrote := d.Engine()
	_, written := wrote.Kept()
	write := func() {
		eng := d.Engine()
		kept, gen := eng.Kept()
		if eng == wrote && gen == written {
			return
		}
		if err := statefile.Write(d.config().Daemon.StateDir, d.verdictsPath(), verdictsFormat, "verdicts", kept, time.Now()); err != nil {
			d.log.Warn("cannot keep verdicts; a restart verifies every image anew", "err", err)
			return
		}
		wrote, written = eng, gen
	}
	t := time.NewTicker(keepVerdictsEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			write()
			return
		case <-t.C:
			write()
		}
	}
}
