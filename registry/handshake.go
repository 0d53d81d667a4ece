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

// handshakeTTL is how long a handshake is kept. A token that expires
// sooner is refreshed on the registry's challenge; a registry that changes
// its scheme or token service is followed after this long.
const handshakeTTL = 5 * time.Minute

// handshakes keeps go-containerregistry's handshake (a ping for the scheme
// and the auth challenge, then, for a bearer registry, a pull token) so
// that a verification does not begin with it: it was one round trip in
// every verification, two with a token. A registry that needs no
// credentials (anonymous, and its ping answered 200) shares one handshake
// among its repositories; any other has one per repository, as its tokens
// are scoped. Only a handshake that succeeded is kept.
type handshakes struct {
	mu   sync.Mutex
	m    map[string]handshake // by registry (open ones) or repository
	open map[string]openness  // by registry
	// pings: each registry's answer to a ping, so a handshake pings once.
	pings pingMemo
	locks map[string]*keyLock // by repository, see lock
}

type handshake struct {
	rt http.RoundTripper // a *transport.Wrapper, which go-containerregistry uses as is
	at time.Time
}

type openness struct {
	open bool
	at   time.Time
}

func (h *handshakes) get(key string) (http.RoundTripper, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.m[key]
	if !ok || time.Since(e.at) > handshakeTTL {
		return nil, false
	}
	return e.rt, true
}

func (h *handshakes) put(key string, rt http.RoundTripper) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= 256 { // more than a node verifies in five minutes
		h.m = map[string]handshake{}
	}
	h.m[key] = handshake{rt: rt, at: time.Now()}
}

// isOpen says what is known of registry: open, and whether it is known.
func (h *handshakes) isOpen(registry string) (open, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.open[registry]
	if !ok || time.Since(o.at) > handshakeTTL {
		return false, false
	}
	return o.open, true
}

func (h *handshakes) setOpen(registry string, open bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open == nil || len(h.open) >= 256 {
		h.open = map[string]openness{}
	}
	h.open[registry] = openness{open: open, at: time.Now()}
}

// forget drops what is known of registry and its shared handshake: it
// asked for credentials after all.
func (h *handshakes) forget(registry string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.open, registry)
	delete(h.m, registry)
	h.pings.forget(registry)
}

// lock serializes the handshakes of one repository: the signatures and
// the attestations of one verification ask at once, and the second is
// then served the first's handshake instead of making its own. Waiting
// ends with the waiter's ctx: a slow registry holds up no verification
// past its own deadline.
func (h *handshakes) lock(ctx context.Context, key string) (func(), error) {
	h.mu.Lock()
	if h.locks == nil {
		h.locks = map[string]*keyLock{}
	}
	l := h.locks[key]
	if l == nil {
		l = &keyLock{token: make(chan struct{}, 1)}
		h.locks[key] = l
	}
	l.n++
	h.mu.Unlock()
	done := func() {
		h.mu.Lock()
		if l.n--; l.n == 0 {
			delete(h.locks, key)
		}
		h.mu.Unlock()
	}
	select {
	case l.token <- struct{}{}:
		return func() { <-l.token; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

type keyLock struct {
	token chan struct{} // one slot: full while a handshake is made
	n     int           // holders and waiters
}

// handshake returns the repository's kept handshake, or makes one and
// keeps it; false when it fails (go-containerregistry then makes its own).
func (c *Client) handshake(ctx context.Context, repo name.Repository, rt http.RoundTripper, auth authn.Authenticator) (http.RoundTripper, bool) {
	reg := repo.RegistryStr()
	// A handshake made with a pod's credential holds its token: kept for
	// that credential only, never for another pod's reads.
	mine := repo.String()
	if pc := podCredentialsFrom(ctx); pc != nil {
		if scope := pc.Scope(repo); scope != "" {
			mine += "\x00" + scope
		}
	}
	unlock, err := c.handshakes.lock(ctx, mine)
	if err != nil {
		return nil, false // the requests that follow fail by ctx too
	}
	defer unlock()
	rt = &pingReplay{next: rt, memo: &c.handshakes.pings}
	if shaken, ok := c.handshakes.get(mine); ok {
		return shaken, true
	}
	// A registry's shared handshake is anonymous: never for a repository
	// the keychain has credentials for.
	if auth == authn.Anonymous {
		if shaken, ok := c.handshakes.get(reg); ok {
			return shaken, true
		}
	}
	open, known := c.handshakes.isOpen(reg)
	if !known && auth == authn.Anonymous {
		// Once per registry: does it want credentials at all?
		ch, err := transport.Ping(ctx, repo.Registry, rt)
		if err != nil {
			return nil, false
		}
		open = ch.Scheme == ""
		c.handshakes.setOpen(reg, open)
	}
	open = open && auth == authn.Anonymous
	key := mine
	var onUnauthorized func()
	if open {
		key = reg
		onUnauthorized = func() { c.handshakes.forget(reg) }
	}
	shaken, err := c.shake(ctx, repo, rt, auth, onUnauthorized)
	if err != nil {
		return nil, false
	}
	c.handshakes.put(key, shaken)
	return shaken, true
}

// shake performs the handshake over rt, wrapped as go-containerregistry
// wraps a transport it is given (retries of network flakes and of 408,
// 429 and 5xx answers, after 1 s and 3 s; the user agent). The handshake
// itself is not retried: when it fails, go-containerregistry's own one
// follows, retried as always, and a failing registry costs one round
// trip more, not another round of retries.
func (c *Client) shake(ctx context.Context, repo name.Repository, rt http.RoundTripper, auth authn.Authenticator, onUnauthorized func()) (http.RoundTripper, error) {
	retry := transport.NewRetry(rt,
		transport.WithRetryBackoff(remote.Backoff{Duration: time.Second, Factor: 3, Jitter: 0.1, Steps: 3}),
		transport.WithRetryPredicate(retryable),
		transport.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 499, 522))
	armed := &afterHandshake{plain: rt, retry: retry, onUnauthorized: onUnauthorized}
	shaken, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewUserAgent(armed, c.cfg.UserAgent), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	armed.shaken.Store(true)
	return shaken, nil
}

// afterHandshake retries only once the handshake is done, and tells
// onUnauthorized (if set) of a 401 then: a registry taken to be open has
// asked for credentials.
type afterHandshake struct {
	shaken         atomic.Bool
	plain, retry   http.RoundTripper
	onUnauthorized func()
}

func (a *afterHandshake) RoundTrip(req *http.Request) (*http.Response, error) {
	if !a.shaken.Load() {
		return a.plain.RoundTrip(req)
	}
	resp, err := a.retry.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && a.onUnauthorized != nil {
		a.onUnauthorized()
	}
	return resp, err
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
