package verify_test

import (
	"sync"
	"time"
)

// testClock is a fake clock for verify.Options.Now: time stands still
// until a test advances it, so expiries are reached without sleeping and
// nothing depends on how fast the machine is.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

// newTestClock starts at the wall clock's present: what tests sign (keys,
// certificates, log entries, predicates) is made at real time.
func newTestClock() *testClock { return &testClock{now: time.Now()} }

// Now reads the clock; pass it as verify.Options.Now.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
