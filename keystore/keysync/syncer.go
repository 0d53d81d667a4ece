package keysync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/signgate/signgate/config"
	"github.com/signgate/signgate/keystore"
	"github.com/signgate/signgate/keystore/kms"
)

// Options tune a Syncer.
type Options struct {
	Interval time.Duration // between syncs; default 5m
	// MaxStaleness: keys not synced for longer are no longer trusted. Zero
	// means no limit: a KMS outage never takes keys away.
	MaxStaleness time.Duration
	StateDir     string        // where last-known-good is kept; "" keeps none
	ReadOnly     bool          // read the state but never write it (one-shot commands)
	Timeout      time.Duration // for one key's requests; default 10s
	Now          func() time.Time
}

// Syncer keeps KMS-backed keys in step. It is safe for concurrent use.
type Syncer struct {
	opts      Options
	specs     []Spec
	providers map[string]kms.Provider // by scheme

	syncMu sync.Mutex // one sync at a time

	mu       sync.RWMutex
	statuses map[string]*Status
	stale    map[string]bool
}

// New builds a syncer for specs, with a provider for each scheme they use.
func New(specs []Spec, providers map[string]kms.Provider, opts Options) (*Syncer, error) {
	if opts.Interval <= 0 {
		opts.Interval = config.DefaultKMSSyncInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = config.DefaultKMSRequestTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Syncer{opts: opts, specs: specs, providers: providers, statuses: map[string]*Status{}, stale: map[string]bool{}}
	for _, sp := range specs {
		if providers[sp.Ref.Scheme] == nil {
			return nil, fmt.Errorf("key %q (%s): no %s provider", sp.Name, sp.Ref.URI, sp.Ref.Scheme)
		}
		s.statuses[sp.Name] = &Status{Name: sp.Name, Source: sp.Ref.URI, Pin: sp.Ref.Pin, Problem: "not synced yet"}
	}
	return s, nil
}

// Adopt takes over what another syncer (the one before a reload) knows of
// keys whose reference did not change, so a reload neither forgets versions
// in grace nor waits for the KMS.
func (s *Syncer) Adopt(prev *Syncer) {
	if prev == nil {
		return
	}
	s.adopt(prev.Statuses(), false)
	_ = s.CheckStaleness() // prev reported these; note them so freshening is reported
}

// LoadState adopts the last-known-good file. It returns how many keys it
// took and when the file was written; a file that fails its checks is an
// error and nothing of it is used.
func (s *Syncer) LoadState() (int, time.Time, error) {
	if s.opts.StateDir == "" {
		return 0, time.Time{}, ErrNoState
	}
	statuses, written, err := ReadState(s.opts.StateDir)
	if err != nil {
		return 0, time.Time{}, err
	}
	n := s.adopt(statuses, true)
	// Note keys already stale, so the sync that freshens them reports it
	// (and the daemon rebuilds its keystore). The daemon says at start
	// which keys are stale.
	_ = s.CheckStaleness()
	return n, written, nil
}

func (s *Syncer) adopt(statuses []Status, fromState bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range statuses {
		cur, ok := s.statuses[st.Name]
		if !ok || cur.Source != st.Source || cur.Pin != st.Pin {
			continue // the config no longer names this key, or names it differently
		}
		st := st
		st.FromState = fromState
		s.statuses[st.Name] = &st
		n++
	}
	return n
}

// Sync asks the KMS about every key at once, applies what it says, and
// persists the result. Keys whose KMS cannot be asked keep what they had;
// the error names each of them.
func (s *Syncer) Sync(ctx context.Context) ([]Change, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	results := make([]syncResult, len(s.specs))
	var wg sync.WaitGroup
	for i, sp := range s.specs {
		prev := s.status(sp.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.syncOne(ctx, sp, prev)
		}()
	}
	wg.Wait()

	var changes []Change
	var errs []error
	synced := false
	s.mu.Lock()
	for i, sp := range s.specs {
		r := results[i]
		if r.err != nil {
			errs = append(errs, r.err)
		} else {
			synced = true
		}
		st := r.st
		s.statuses[sp.Name] = &st
		changes = append(changes, r.changes...)
	}
	s.mu.Unlock()
	changes = append(changes, s.CheckStaleness()...)
	if synced && s.opts.StateDir != "" && !s.opts.ReadOnly {
		if err := WriteState(s.opts.StateDir, s.Statuses(), s.opts.Now()); err != nil {
			errs = append(errs, fmt.Errorf("saving the last-known-good keys: %w", err))
		}
	}
	return changes, errors.Join(errs...)
}

// syncResult is one key's sync: its new status, what changed, or why it
// could not be synced (and then st is the previous status).
type syncResult struct {
	st      Status
	changes []Change
	err     error
}

func (s *Syncer) syncOne(ctx context.Context, sp Spec, prev Status) (r syncResult) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	now := s.opts.Now()
	known := make([]string, 0, len(prev.Versions))
	for _, t := range prev.Versions {
		known = append(known, t.Version)
	}
	vs, err := s.providers[sp.Ref.Scheme].Versions(ctx, sp.Ref, known)
	if err == nil {
		// The KMS answered: what it said of each version applies, even
		// when some version cannot be taken (apply reports those).
		var next Status
		next, r.changes = apply(prev, sp, vs, now)
		next.LastAttempt = now
		r.st = next
		return r
	}
	// The KMS could not be asked: the key keeps what it had.
	r.err = fmt.Errorf("key %q (%s): %w", sp.Name, sp.Ref.URI, err)
	prev.LastError, prev.LastAttempt = err.Error(), now
	r.st = prev
	return r
}

func (s *Syncer) status(name string) Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return *s.statuses[name]
}

// CheckStaleness reports keys that crossed the maximum staleness, either
// way, since it last looked. Sync calls it; the daemon rebuilds its keystore
// after every sync round, so keys lapse within a round of the limit even
// while the KMS stays down. Keys and IsStale do not wait for it.
func (s *Syncer) CheckStaleness() []Change {
	if s.opts.MaxStaleness <= 0 {
		return nil
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var changes []Change
	for _, sp := range s.specs {
		st := s.statuses[sp.Name]
		stale := s.isStale(st, now)
		if stale == s.stale[sp.Name] {
			continue
		}
		s.stale[sp.Name] = stale
		if stale {
			changes = append(changes, Change{Key: sp.Name, Kind: Stale, Detail: fmt.Sprintf("not synced since %s, longer than max_staleness %s; its %d version(s) are no longer trusted", fmtTime(st.LastSync), s.opts.MaxStaleness, len(st.Versions))})
		} else {
			changes = append(changes, Change{Key: sp.Name, Kind: Fresh, Detail: "synced again; trusted"})
		}
	}
	return changes
}

// isStale: synced once, but not within the maximum staleness. A key never
// synced has no versions to distrust.
func (s *Syncer) isStale(st *Status, now time.Time) bool {
	return s.opts.MaxStaleness > 0 && !st.LastSync.IsZero() && now.Sub(st.LastSync) > s.opts.MaxStaleness
}

// Keys returns every version of every key trusted now, in config order and
// then by version: not stale, and not a rotated-out version past its grace
// period, whether or not a sync has said so yet (the KMS may be down). Each
// key carries when it stops being trusted, so the engine drops it then even
// if no sync round comes.
func (s *Syncer) Keys() []*keystore.Key {
	now := s.opts.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*keystore.Key
	for _, sp := range s.specs {
		st := s.statuses[sp.Name]
		if s.isStale(st, now) {
			continue
		}
		var staleAt time.Time
		if s.opts.MaxStaleness > 0 && !st.LastSync.IsZero() {
			staleAt = st.LastSync.Add(s.opts.MaxStaleness)
		}
		for _, t := range st.Versions {
			if !t.GraceUntil.IsZero() && !now.Before(t.GraceUntil) {
				continue
			}
			k := *t.key
			k.NotAfter = earliest(t.GraceUntil, staleAt)
			out = append(out, &k)
		}
	}
	return out
}

// earliest of two times, where zero means never.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// Statuses returns a copy of what is known of each key, sorted by name.
func (s *Syncer) Statuses() []Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Status, 0, len(s.statuses))
	for _, st := range s.statuses {
		c := *st
		c.Versions = append([]Trusted(nil), st.Versions...)
		c.Unusable = append([]UnusableVersion(nil), st.Unusable...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsStale reports whether a key is past the maximum staleness.
func (s *Syncer) IsStale(name string) bool {
	now := s.opts.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.statuses[name]
	return ok && s.isStale(st, now)
}

// Pacer spaces syncs: every interval with ±10% jitter, so nodes do not ask
// the KMS in step, and after a failure sooner, with exponential backoff from
// 5s up to the interval.
type Pacer struct{ backoff time.Duration }

// Next is how long to wait before the next sync, given the last one's error.
func (p *Pacer) Next(interval time.Duration, lastErr error) time.Duration {
	switch {
	case lastErr == nil:
		p.backoff = 0
		return jitter(interval)
	case p.backoff == 0:
		p.backoff = min(5*time.Second, interval)
	default:
		p.backoff = min(2*p.backoff, interval)
	}
	return jitter(p.backoff)
}

// Close releases the providers' connections.
func (s *Syncer) Close() {
	for _, p := range s.providers {
		if c, ok := p.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// Len is how many KMS-backed keys the syncer keeps.
func (s *Syncer) Len() int { return len(s.specs) }

func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
