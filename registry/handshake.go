package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// handshakeTTL is how long a repository's handshake is kept. A token that
// expires sooner is refreshed on the registry's challenge; a registry that
// changes its scheme or token service is followed after this long.
const handshakeTTL = 5 * time.Minute

// handshakes keeps go-containerregistry's handshake with each repository
// (a ping for the scheme and the auth challenge, then, for a bearer
// registry, a pull token) so that a verification does not begin with it:
// it was one round trip in every verification, two with a token. Only a
// handshake that succeeded is kept.
type handshakes struct {
	mu sync.Mutex
	m  map[string]handshake
}

type handshake struct {
	rt http.RoundTripper // a *transport.Wrapper, which go-containerregistry uses as is
	at time.Time
}

func (h *handshakes) get(repo string) (http.RoundTripper, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[repo]
	if !ok || time.Since(e.at) > handshakeTTL {
		return nil, false
	}
	return e.rt, true
}

func (h *handshakes) put(repo string, rt http.RoundTripper) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= 1024 {
		h.m = map[string]handshake{}
	}
	h.m[repo] = handshake{rt: rt, at: time.Now()}
}

// shake performs the handshake over rt, wrapped as go-containerregistry
// wraps a transport it is given (retries of network flakes and of 408,
// 429 and 5xx answers, after 1 s and 3 s; the user agent). The handshake
// itself is not retried: when it fails, go-containerregistry's own one
// follows, retried as always, and a failing registry costs one round
// trip more, not another round of retries.
func (c *Client) shake(ctx context.Context, repo name.Repository, rt http.RoundTripper) (http.RoundTripper, error) {
	auth, err := authn.Resolve(ctx, c.keychain, repo)
	if err != nil {
		return nil, err
	}
	retry := transport.NewRetry(rt,
		transport.WithRetryBackoff(remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}),
		transport.WithRetryPredicate(retryable),
		transport.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 499, 522))
	armed := &retryOnceShaken{plain: rt, retry: retry}
	shaken, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewUserAgent(armed, c.cfg.UserAgent), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	armed.shaken.Store(true)
	return shaken, nil
}

// retryOnceShaken retries only once the handshake is done.
type retryOnceShaken struct {
	shaken       atomic.Bool
	plain, retry http.RoundTripper
}

func (r *retryOnceShaken) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.shaken.Load() {
		return r.retry.RoundTrip(req)
	}
	return r.plain.RoundTrip(req)
}

// retryable is go-containerregistry's own test for a network flake.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
