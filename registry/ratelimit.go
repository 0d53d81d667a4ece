package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ErrRateLimited is the family of a registry's 429 answers that a
// verification could not wait out.
var ErrRateLimited = errors.New("registry rate limit")

// RateLimitError is a 429 whose Retry-After is longer than the
// verification has left (or one too many in a row).
type RateLimitError struct {
	Registry   string
	URL        string // redacted
	RetryAfter time.Duration
	Left       time.Duration // what the verification had left; <0 for no deadline
}

func (e *RateLimitError) Error() string {
	left := "its deadline"
	if e.Left >= 0 {
		left = "the " + e.Left.Round(time.Millisecond).String() + " the verification had left"
	}
	return fmt.Sprintf("registry %s rate-limits signgate (429 Too Many Requests at %s): Retry-After %s is beyond %s", e.Registry, e.URL, e.RetryAfter, left)
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// RateLimited says whether err is a registry's rate limit: one signgate
// could not wait out, or a 429 without Retry-After that outlasted the
// retries.
func RateLimited(err error) bool {
	return errors.Is(err, ErrRateLimited) || statusOf(err) == http.StatusTooManyRequests
}

// Honouring Retry-After: at most this many waits per request, none longer
// than maxRetryAfter, each only if the request's deadline leaves time for
// the retry.
const (
	maxRetryAfterWaits = 3
	maxRetryAfter      = time.Minute
)

// retryAfterTransport waits out a 429's Retry-After when the request's
// deadline allows and sends the request again; otherwise it answers with
// a RateLimitError rather than the 429, so the verification says why
// (go-containerregistry would retry a 429 on its own schedule, blind to
// Retry-After). A 429 without Retry-After is passed up as it is.
type retryAfterTransport struct {
	registry string
	next     http.RoundTripper
	now      func() time.Time
	after    func(time.Duration) <-chan time.Time

	// server is the host of the registry's own endpoint when hosts.toml
	// names one: its hold-off is the registry's.
	server string

	// Each answering host's last Retry-After, capped at maxRetryAfter,
	// for every request addressed to that host: none is sent before then,
	// by this verification or another. Keyed by the host that sent the
	// 429, so a mirror, a token service or a redirect's blob host (other
	// parties) cannot hold off the registry itself; capped so no answer
	// holds a host off until signgate restarts.
	mu    sync.Mutex
	until map[string]time.Time
}

func (t *retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for waits := 0; ; waits++ {
		if err := t.waitOut(req); err != nil {
			return nil, err
		}
		resp, err := t.next.RoundTrip(req)
		if err == nil {
			noteAnswer(req.Context(), resp.StatusCode)
		}
		if err != nil || resp.StatusCode != http.StatusTooManyRequests {
			return resp, err
		}
		d, ok := retryAfter(resp.Header.Get("Retry-After"), t.now())
		if !ok {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		left := time.Duration(-1)
		if dl, ok := req.Context().Deadline(); ok {
			left = dl.Sub(t.now())
		}
		rle := &RateLimitError{Registry: t.registry, URL: errorURL(req.URL), RetryAfter: d, Left: left}
		t.holdOff(t.answered(req, resp), d)
		if d > maxRetryAfter || (left >= 0 && d >= left) || waits >= maxRetryAfterWaits || (req.Body != nil && req.GetBody == nil) {
			return nil, rle
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// waitOut waits until the registry's last Retry-After has passed, when the
// request's deadline leaves time for it, and refuses the request at once
// otherwise.
func (t *retryAfterTransport) waitOut(req *http.Request) error {
	t.mu.Lock()
	d := t.until[req.URL.Host].Sub(t.now())
	t.mu.Unlock()
	if d <= 0 {
		return nil
	}
	left := time.Duration(-1)
	if dl, ok := req.Context().Deadline(); ok {
		left = dl.Sub(t.now())
	}
	rle := &RateLimitError{Registry: t.registry, URL: errorURL(req.URL), RetryAfter: d.Round(time.Second), Left: left}
	if left >= 0 && d >= left {
		return rle
	}
	select {
	case <-t.after(d):
		return nil
	case <-req.Context().Done():
		return rle
	}
}

// answered is the host whose 429 resp is, as requests name it: the URL
// host of the request that reached it (hosts.toml may have sent req to a
// mirror), the registry's when that is the registry's own server.
func (t *retryAfterTransport) answered(req *http.Request, resp *http.Response) string {
	h := req.URL.Host
	if resp.Request != nil && resp.Request.URL != nil {
		h = resp.Request.URL.Host
	}
	if t.server != "" && h == t.server {
		return t.registry
	}
	return h
}

// holdOff holds requests to host off for d, at most maxRetryAfter: once
// that has passed the next request is sent, a probe whose answer says
// whether the host is still limiting. Expired hold-offs are dropped, so a
// registry redirecting to ever new hosts cannot grow the map beyond the
// 429s of one maxRetryAfter.
func (t *retryAfterTransport) holdOff(host string, d time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.until == nil {
		t.until = map[string]time.Time{}
	}
	for h, u := range t.until {
		if !u.After(now) {
			delete(t.until, h)
		}
	}
	if u := now.Add(min(d, maxRetryAfter)); u.After(t.until[host]) {
		t.until[host] = u
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}
