package main

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/signgate/signgate/registry"
)

// exchangeTally is what one verification asked of the registry: how many
// HTTP requests, and for how long at least one was in flight (requests
// made in parallel overlap; their union is the registry's part of the
// verification's time).
type exchangeTally struct {
	n     int
	spans []span
}

type span struct{ from, to time.Time }

// busy is the time covered by at least one span.
func (t exchangeTally) busy() time.Duration {
	s := append([]span(nil), t.spans...)
	sort.Slice(s, func(i, j int) bool { return s[i].from.Before(s[j].from) })
	var total time.Duration
	var cur span
	for i, x := range s {
		switch {
		case i == 0:
			cur = x
		case !x.from.After(cur.to):
			if x.to.After(cur.to) {
				cur.to = x.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = x
		}
	}
	if len(s) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total
}

// tally counts the registry exchanges of the engines newRegistry builds.
type tally struct {
	mu sync.Mutex
	t  exchangeTally
}

var exchanges tally

func (t *tally) observe(x registry.Exchange) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	t.t.n++
	t.t.spans = append(t.t.spans, span{now.Add(-x.Took), now})
}

// take returns the tally so far and starts a new one.
func (t *tally) take() exchangeTally {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.t
	t.t = exchangeTally{}
	return out
}

// newRegistry is a registry client whose exchanges are tallied.
func newRegistry(hostsDir string) *registry.Client {
	c, err := registry.New(registry.Config{HostsDir: hostsDir, Observe: exchanges.observe})
	check(err)
	return c
}

// registryRow sets each cold verification beside the registry's part of
// it: the requests it made and the time they were in flight, and what is
// left, signgate's own time (target: the registry's round trips + 1ms).
func registryRow(cold []time.Duration, reg []exchangeTally) row {
	busy := make([]time.Duration, len(reg))
	own := make([]time.Duration, len(reg))
	counts := make([]int, len(reg))
	for i, r := range reg {
		busy[i], counts[i] = r.busy(), r.n
		own[i] = max(cold[i]-busy[i], 0)
	}
	sort.Ints(counts)
	r := summarize("  of which waiting on the registry", busy, "")
	r.note = fmt.Sprintf("%d requests per verification (median); signgate's own time %s at the median (target <= 1ms)",
		counts[len(counts)/2], fmtDur(median(own)))
	return r
}
