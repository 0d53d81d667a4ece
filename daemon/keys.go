package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/signgate/signgate/keystore/keysync"
	"github.com/signgate/signgate/setup"
)

// KeyMessageID marks changes to the trusted keys in the journal:
// journalctl MESSAGE_ID=7c3a9e1d5b2f4a6c8e0d2b4f6a8c0e13
const KeyMessageID = "7c3a9e1d5b2f4a6c8e0d2b4f6a8c0e13"

// What start says of KMS keys, beside keysync's own changes.
const (
	keyStateIgnored  keysync.ChangeKind = "state_ignored"   // the state file failed a check
	keyLastKnownGood keysync.ChangeKind = "last_known_good" // the KMS is down; the state file's versions decide
	keyUntrusted     keysync.ChangeKind = "untrusted"       // no version can be trusted: images that need it are denied
)

// startKeys brings KMS keys up at start through setup.StartKeys, as every
// command does (same state, same timeout). Unlike a command, it starts on
// a state that holds every key and syncs in the background: a KMS that is
// down must not hold up container creation on the node. A KMS that cannot
// be reached leaves the state's keys in force, and says so.
func (d *Daemon) startKeys(s *keysync.Syncer) {
	if s.Len() == 0 {
		return
	}
	ks := setup.StartKeys(d.config(), s, true)
	switch {
	case errors.Is(ks.StateErr, keysync.ErrNoState):
		d.log.Info("no last-known-good KMS keys yet", "state_dir", d.config().Daemon.StateDir)
	case ks.StateErr != nil:
		d.keyEvent(keysync.Change{Kind: keyStateIgnored, Detail: ks.StateErr.Error()}, true)
	default:
		d.log.Info("loaded last-known-good KMS keys", "keys", ks.Loaded, "written", ks.Written.UTC().Format(time.RFC3339))
	}
	if ks.Deferred {
		d.syncSoon.Store(true)
		return
	}
	d.reportSync(s, ks.Changes, ks.SyncErr)
	d.reportStart(s)
}

// reportStart says, after the first sync, which keys run on last-known-good
// versions and which have none.
func (d *Daemon) reportStart(s *keysync.Syncer) {
	for _, st := range s.Statuses() {
		why := st.Problem
		if st.LastError != "" {
			why = st.LastError
		}
		switch {
		case len(st.Versions) == 0:
			d.keyEvent(keysync.Change{Key: st.Name, Kind: keyUntrusted, Detail: "no trusted version, so policies that need this key deny: " + why}, true)
		case s.IsStale(st.Name):
			d.keyEvent(keysync.Change{Key: st.Name, Kind: keyUntrusted, Detail: fmt.Sprintf("the last-known-good versions were synced at %s, longer ago than kms.max_staleness, and the KMS cannot be reached (%s); policies that need this key deny", st.LastSync.UTC().Format(time.RFC3339), why)}, true)
		case st.LastError != "" && st.FromState:
			d.keyEvent(keysync.Change{Key: st.Name, Kind: keyLastKnownGood, Detail: fmt.Sprintf("the KMS cannot be reached (%s); using the last-known-good versions synced at %s", st.LastError, st.LastSync.UTC().Format(time.RFC3339))}, true)
		}
	}
}

// SyncKeys asks the KMS now and puts any change in force.
func (d *Daemon) SyncKeys(ctx context.Context) ([]keysync.Change, error) {
	s := d.syncer.Load()
	if s.Len() == 0 {
		return nil, nil
	}
	changes, err := s.Sync(ctx)
	d.reportSync(s, changes, err)
	if len(changes) > 0 {
		// Only a change (a version added or dropped, a key going stale or
		// fresh) alters the trusted keys; a quiet round rebuilds nothing,
		// but extends how long the synced keys stay trusted.
		d.refreshKeys(s)
	} else {
		d.renewKeys(s)
	}
	return changes, err
}

// renewKeys carries the syncer's trust deadlines (max_staleness counted
// from this sync) into the keys in force, keeping the snapshot's identity
// and its verdicts.
func (d *Daemon) renewKeys(s *keysync.Syncer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.syncer.Load() != s {
		return
	}
	e := d.Engine()
	cur := e.Snapshot()
	e.Swap(cur.WithKeys(cur.Keys.Renew(s.Keys())))
}

// syncLoop syncs KMS keys on the configured schedule until ctx ends; at
// once if start left the first sync to it.
func (d *Daemon) syncLoop(ctx context.Context) {
	if d.syncSoon.Load() {
		s := d.syncer.Load()
		_, _ = d.SyncKeys(ctx)
		d.reportStart(s)
	}
	var pacer keysync.Pacer
	var err error
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pacer.Next(d.config().KMS.SyncInterval, err)):
		}
		_, err = d.SyncKeys(ctx)
	}
}

// refreshKeys rebuilds the snapshot with the syncer's keys and swaps it in
// if the keys changed; the engine then reuses no verdict of a policy whose
// keys changed.
func (d *Daemon) refreshKeys(s *keysync.Syncer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.syncer.Load() != s {
		return // a reload replaced the syncer and built its own snapshot
	}
	snap, err := d.config().Snapshot(context.Background(), s.Keys()...)
	if err != nil {
		d.log.Error("the keystore could not be rebuilt; the keys in force stay", "err", err)
		return
	}
	e := d.Engine()
	if snap.ID == e.Snapshot().ID {
		return
	}
	e.Swap(snap)
	d.warnSharedKeys(snap)
	d.keysTime.Store(time.Now().UnixNano())
	d.metrics.keysLoaded.Set(float64(time.Now().Unix()))
	d.log.Info("keystore updated from the KMS; cached verdicts of the policies that trust the changed keys dropped", "snapshot", snap.ID, "keys", len(snap.Keys.Keys()))
	select {
	case d.keysChanged <- struct{}{}:
	default: // a re-verification is already due
	}
	d.judgeSoon("KMS keys changed")
}

func (d *Daemon) reportSync(s *keysync.Syncer, changes []keysync.Change, err error) {
	for _, c := range changes {
		d.keyEvent(c, c.Warning())
	}
	d.metrics.synced(s, err)
	if err != nil {
		d.log.Warn("KMS sync incomplete; keys that could not be synced keep the versions in force", "err", err)
	}
}

// keyEvent records a change to the trusted keys: in the journal with
// structured fields when it is there, else in the log.
func (d *Daemon) keyEvent(c keysync.Change, warn bool) {
	msg := "signgate key change: " + c.String()
	if journal.Enabled() && d.journal {
		pri := journal.PriInfo
		if warn {
			pri = journal.PriWarning
		}
		_ = journal.Send(msg, pri, map[string]string{
			"MESSAGE_ID":               KeyMessageID,
			"SIGNGATE_KEY":             c.Key,
			"SIGNGATE_KEY_CHANGE":      string(c.Kind),
			"SIGNGATE_KEY_VERSION":     c.Version,
			"SIGNGATE_KEY_FINGERPRINT": c.Fingerprint,
		})
		if !d.alsoStderr.Load() {
			return
		}
	}
	level := slog.LevelInfo
	if warn {
		level = slog.LevelWarn
	}
	attrs := []any{"change", string(c.Kind)}
	for _, kv := range [][2]string{{"key", c.Key}, {"version", c.Version}, {"fingerprint", c.Fingerprint}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	d.log.Log(context.Background(), level, "key change", append(attrs, "detail", c.Detail)...)
}
