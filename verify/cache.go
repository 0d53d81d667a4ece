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
}

type entry struct {
	v       *Verdict
	expires time.Time
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
func (c *cache) finish(key string, cl *call, v, kept *Verdict, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl.v = v
	delete(c.inflight, key)
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if now.After(e.expires) || len(c.entries) >= c.max {
				delete(c.entries, k)
			}
		}
	}
	c.entries[key] = entry{v: kept, expires: expires}
	close(cl.done)
}

// retain drops every verdict whose key keep refuses.
func (c *cache) retain(keep func(key string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if !keep(k) {
			delete(c.entries, k)
		}
	}
}
