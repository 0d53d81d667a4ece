package verify

import (
	"sync"
	"time"
)

// cache holds verdicts with expiry and the verifications in flight.
type cache struct {
	mu       sync.Mutex
	max      int
	entries  map[string]entry
	inflight map[string]*call
	// gen changes whenever the set of verified verdicts does, so what keeps
	// them across restarts writes only then.
	gen int64
}

type entry struct {
	v       *Verdict
	expires time.Time
	renew   *renewal // nil: verified in full when it expires
}

type call struct {
	done chan struct{}
	v    *Verdict
}

func newCache(max int) *cache {
	return &cache{max: max, entries: map[string]entry{}, inflight: map[string]*call{}}
}

// get returns the verdict kept for key, unless it has expired at now.
func (c *cache) get(key string, now time.Time) (*Verdict, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e.v, true
}

// join returns the call in flight for key, starting one if there is none;
// leader is true for the caller that must run it.
func (c *cache) join(key string) (cl *call, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.inflight[key]; ok {
		return cl, false
	}
	cl = &call{done: make(chan struct{})}
	c.inflight[key] = cl
	return cl, true
}

// finish hands v to the callers waiting on cl, and keeps kept (v, or a
// smaller form of it) for later ones until expires; now, by the engine's
// clock, decides which old entries to drop when the cache is full.
func (c *cache) finish(key string, cl *call, v, kept *Verdict, expires, now time.Time, r *renewal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.v = v
	delete(c.inflight, key)
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if (now.After(e.expires) && !e.renew.canRenew(now)) || len(c.entries) >= c.max {
				delete(c.entries, k)
				c.gen++
			}
		}
	}
	c.entries[key] = entry{v: kept, expires: expires, renew: r}
	if kept.Verified {
		c.gen++
	}
	close(cl.done)
}

// put keeps v for key until expires, unless a verdict is already kept or
// being made for key: what a verification made in this process knows is
// never replaced by one restored from disk.
func (c *cache) put(key string, v *Verdict, expires time.Time, r *renewal) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		return false
	}
	if _, ok := c.inflight[key]; ok || len(c.entries) >= c.max {
		return false
	}
	c.entries[key] = entry{v: v, expires: expires, renew: r}
	c.gen++
	return true
}

// verified returns the verified verdicts still valid at now, or expired
// and still renewable, and the generation they are of.
func (c *cache) verified(now time.Time) (map[string]entry, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]entry{}
	for k, e := range c.entries {
		if e.v.Verified && (!now.After(e.expires) || e.renew.canRenew(now)) {
			out[k] = e
		}
	}
	return out, c.gen
}

// retain drops every verdict whose key keep refuses.
func (c *cache) retain(keep func(key string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if !keep(k) {
			delete(c.entries, k)
			if e.v.Verified {
				c.gen++
			}
		}
	}
}

// renewable returns what the expired verdict kept for key rests on, when
// it may be renewed at now.
func (c *cache) renewable(key string, now time.Time) (renewed, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.After(e.expires) || !e.v.Verified || !e.renew.canRenew(now) {
		return renewed{}, false
	}
	return renewed{v: e.v, r: e.renew}, true
}
