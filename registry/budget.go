package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/signgate/signgate/config"
)

// DefaultMaxReferrersBytes is the default for Config.MaxReferrersBytes,
// written once in config.
const DefaultMaxReferrersBytes = config.DefaultMaxReferrersBytes

// ErrReferrersMemory is the family of referrers listings refused for the
// memory they would hold: one listing over its cap (max_manifest_bytes,
// across all its pages), or all listings in flight over theirs
// (max_referrers_bytes).
var ErrReferrersMemory = errors.New("referrers listing refused for memory")

// ReferrersMemoryError names the cap a listing would have crossed.
type ReferrersMemoryError struct {
	URL   string
	Cap   string // the config key
	Limit int64
}

func (e *ReferrersMemoryError) Error() string {
	if e.Cap == "max_referrers_bytes" {
		return fmt.Sprintf("referrers of %s: the listings being read at once would hold more than %d bytes (registry.max_referrers_bytes)", e.URL, e.Limit)
	}
	return fmt.Sprintf("referrers of %s: the listing, across its pages, exceeds %d bytes (registry.%s)", e.URL, e.Limit, e.Cap)
}

// Unwrap makes errors.Is(err, ErrReferrersMemory) true.
func (e *ReferrersMemoryError) Unwrap() error { return ErrReferrersMemory }

// budget is the bytes every referrers listing in flight may hold between
// them, whatever the number of verifications: a hostile registry serving
// large pages to many at once would otherwise hold pages times
// verifications.
type budget struct {
	mu          sync.Mutex
	used, limit int64
}

func newBudget(limit int64) *budget { return &budget{limit: limit} }

// take reserves n bytes, or fails without waiting: a listing waiting for
// room while holding some could wait on another doing the same.
func (b *budget) take(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Used is what the listings in flight hold now.
func (b *budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// heldBody is a listing read into memory. Its reader (go-containerregistry)
// parses and keeps what it lists for as long as the verification runs, so
// the reservation is given back when the request's context ends, which
// ends every verification; a request without an end gives it back when the
// body is closed.
type heldBody struct {
	*bytes.Reader
	release func()
}

func newHeldBody(ctx context.Context, data []byte, b *budget, n int64) *heldBody {
	h := &heldBody{Reader: bytes.NewReader(data), release: func() {}}
	if ctx.Done() == nil {
		h.release = sync.OnceFunc(func() { b.give(n) })
		return h
	}
	context.AfterFunc(ctx, func() { b.give(n) })
	return h
}

func (h *heldBody) Close() error { h.release(); return nil }

var _ io.ReadCloser = (*heldBody)(nil)

// ReferrersHeld is what the referrers listings in flight hold now (for
// tests and metrics).
func (c *Client) ReferrersHeld() int64 { return c.listings.Used() }
