package podsecrets

import "strings"

// cache is a bounded map keyed "namespace/...": full, it drops its least
// recently used entry, and a namespace holding its share drops its own
// least recently used one, so the names one namespace's pods make up
// cannot push another namespace's entries out. Not safe for concurrent
// use (Source.mu guards it).
type cache[V any] struct {
	max, perNS int
	m          map[string]*cached[V]
	ns         map[string]int // entries per namespace
	tick       uint64         // a use counter: orders uses without a clock
}

type cached[V any] struct {
	v    V
	used uint64
}

func newCache[V any](max, perNS int) *cache[V] {
	return &cache[V]{max: max, perNS: perNS, m: map[string]*cached[V]{}, ns: map[string]int{}}
}

func nsOf(key string) string { ns, _, _ := strings.Cut(key, "/"); return ns }

func (c *cache[V]) get(key string) (V, bool) {
	e, ok := c.m[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.tick++
	e.used = c.tick
	return e.v, true
}

func (c *cache[V]) put(key string, v V) {
	c.tick++
	if e, ok := c.m[key]; ok {
		e.v, e.used = v, c.tick
		return
	}
	ns := nsOf(key)
	switch {
	case c.ns[ns] >= c.perNS:
		c.evict(ns)
	case len(c.m) >= c.max:
		c.evict("")
	}
	c.m[key] = &cached[V]{v: v, used: c.tick}
	c.ns[ns]++
}

// evict drops the least recently used entry, of namespace ns when given.
// A scan: it runs only when the cache is full, and the cache is small.
func (c *cache[V]) evict(ns string) {
	var (
		oldest string
		at     uint64
	)
	for k, e := range c.m {
		if ns != "" && nsOf(k) != ns {
			continue
		}
		if oldest == "" || e.used < at {
			oldest, at = k, e.used
		}
	}
	if oldest == "" {
		return
	}
	delete(c.m, oldest)
	n := nsOf(oldest)
	if c.ns[n]--; c.ns[n] <= 0 {
		delete(c.ns, n)
	}
}

func (c *cache[V]) len() int { return len(c.m) }
