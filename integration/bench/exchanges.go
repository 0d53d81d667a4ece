package main

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/signgate/signgate/registry"
)

// exchangeTally is what one verification asked of the registry: how many
// HTTP requests, and their latencies added up (requests made in parallel
// overlap, so the sum can exceed the verification's own time).
type exchangeTally struct {
	n   int
	sum time.Duration
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
	t.t.n++
	t.t.sum += x.Took
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
// it: the requests it made and their summed latencies, and what is left,
// signgate's own time (target: the registry's round trips + 1ms).
func registryRow(cold []time.Duration, reg []exchangeTally) row {
	sums := make([]time.Duration, len(reg))
	own := make([]time.Duration, len(reg))
	counts := make([]int, len(reg))
	for i, r := range reg {
		sums[i], counts[i] = r.sum, r.n
		own[i] = max(cold[i]-r.sum, 0)
	}
	sort.Ints(counts)
	r := summarize("  of which the registry's requests (summed)", sums, "")
	r.note = fmt.Sprintf("%d requests per verification (median); signgate's own time %s at the median (target <= 1ms)",
		counts[len(counts)/2], fmtDur(median(own)))
	return r
}
