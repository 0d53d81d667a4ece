package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// fakeWait is a clock for Retry-After: a wait returns at once, noted,
// and moves the clock on by as much.
type fakeWait struct {
	mu    sync.Mutex
	at    time.Time
	waits []time.Duration
}

func (f *fakeWait) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.at
}

func (f *fakeWait) after(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.at = f.at.Add(d)
	ch := make(chan time.Time, 1)
	ch <- f.at
	return ch
}

func (f *fakeWait) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = f.at.Add(d)
}

// rateLimited answers the first `limited` requests with 429 and the
// given Retry-After, then 404s (the image does not matter here: that the
// request got through does).
func rateLimited(t *testing.T, limited int32, retryAfter string) (string, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return // open registry
		}
		if n.Add(1) <= limited {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), &n
}

// headWithin heads ref with a deadline budget after c's clock's now (a
// fake clock's deadline is only ever compared, never waited for).
func headWithin(t *testing.T, c *Client, ref string, budget time.Duration) error {
	t.Helper()
	r, _ := name.ParseReference(ref)
	ctx, cancel := context.WithDeadline(context.Background(), c.now().Add(budget))
	defer cancel()
	opts, err := c.Options(ctx, r.Context())
	if err != nil {
		return err
	}
	_, err = remote.Head(r, opts...)
	return err
}

// A 429's Retry-After is waited out when the verification's deadline
// leaves time for it, then the request goes through.
func TestRetryAfterHonouredWithinTheBudget(t *testing.T) {
	t.Parallel()
	host, n := rateLimited(t, 2, "2")
	c, _ := New(Config{})
	clock := &fakeWait{at: time.Now()}
	c.now, c.after = clock.now, clock.after
	err := headWithin(t, c, host+"/app:v1", 10*time.Second)
	if RateLimited(err) || !strings.Contains(fmt.Sprint(err), "404 Not Found") {
		t.Fatalf("want the request through after the waits: %v", err)
	}
	if len(clock.waits) != 2 || clock.waits[0] != 2*time.Second {
		t.Errorf("waits %v, want 2s twice", clock.waits)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

// A Retry-After beyond the deadline is not waited for: the verification
// ends at once, saying so, and the request is not sent again.
func TestRetryAfterBeyondTheBudget(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"30", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)} {
		host, n := rateLimited(t, 100, h)
		c, _ := New(Config{})
		clock := &fakeWait{at: time.Now()}
		c.now, c.after = clock.now, clock.after
		err := headWithin(t, c, host+"/app:v1", 5*time.Second)
		var rle *RateLimitError
		if !RateLimited(err) || !errors.As(err, &rle) || rle.Registry != host || rle.RetryAfter < 30*time.Second {
			t.Fatalf("Retry-After %s: %v", h, err)
		}
		if !strings.Contains(err.Error(), "registry "+host+" rate-limits signgate (429 Too Many Requests at http://"+host+"/v2/app/manifests/v1)") {
			t.Errorf("message: %v", err)
		}
		if len(clock.waits) != 0 || n.Load() != 1 {
			t.Errorf("waits %v, %d requests; want none and 1", clock.waits, n.Load())
		}
	}
}

// A 429 without Retry-After is passed up for go-containerregistry's own
// retries; when they give up, it is still told as a rate limit.
func TestRateLimitWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	host, n := rateLimited(t, 1, "")
	c, _ := New(Config{})
	clock := &fakeWait{at: time.Now()}
	c.now, c.after = clock.now, clock.after
	if err := headWithin(t, c, host+"/app:v1", 10*time.Second); !strings.Contains(fmt.Sprint(err), "404 Not Found") || len(clock.waits) != 0 || n.Load() != 2 {
		t.Errorf("got %v, waits %v, %d requests", err, clock.waits, n.Load())
	}
	if !RateLimited(fmt.Errorf("reading: %w", &transport.Error{StatusCode: http.StatusTooManyRequests})) {
		t.Error("a 429 from go-containerregistry is not a rate limit")
	}
}

// A Retry-After holds for every request to the registry, from any
// verification: until it has passed, none is sent, and a verification
// that cannot wait it out ends at once.
func TestRetryAfterHoldsForTheRegistry(t *testing.T) {
	t.Parallel()
	host, n := rateLimited(t, 1, "30")
	c, _ := New(Config{})
	clock := &fakeWait{at: time.Now()}
	c.now, c.after = clock.now, clock.after
	if err := headWithin(t, c, host+"/app:v1", 5*time.Second); !RateLimited(err) {
		t.Fatalf("first: %v", err)
	}
	clock.advance(10 * time.Second)
	err := headWithin(t, c, host+"/other:v1", 5*time.Second)
	var rle *RateLimitError
	if !errors.As(err, &rle) || rle.RetryAfter != 20*time.Second || n.Load() != 1 {
		t.Fatalf("within the Retry-After: %v, %d requests; want none sent, 20s left", err, n.Load())
	}
	// With the deadline beyond what is left of it, the wait is made.
	clock.advance(18 * time.Second)
	if err := headWithin(t, c, host+"/other:v1", 5*time.Second); !strings.Contains(fmt.Sprint(err), "404 Not Found") || n.Load() != 2 {
		t.Fatalf("after waiting out the rest: %v, %d requests", err, n.Load())
	}
	if len(clock.waits) != 1 || clock.waits[0] != 2*time.Second {
		t.Errorf("waits %v, want the 2s left", clock.waits)
	}
}

// No Retry-After holds a registry off for longer than maxRetryAfter:
// once that has passed a request is sent again, however far ahead the
// registry said (a huge count of seconds, an HTTP date years ahead).
func TestRetryAfterHoldOffIsCapped(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"99999999", time.Now().AddDate(5, 0, 0).UTC().Format(http.TimeFormat)} {
		host, n := rateLimited(t, 1, h)
		c, _ := New(Config{})
		clock := &fakeWait{at: time.Now()}
		c.now, c.after = clock.now, clock.after
		if err := headWithin(t, c, host+"/app:v1", 5*time.Second); !RateLimited(err) {
			t.Fatalf("Retry-After %s: first: %v", h, err)
		}
		clock.advance(maxRetryAfter / 2)
		if err := headWithin(t, c, host+"/app:v1", 5*time.Second); !RateLimited(err) || n.Load() != 1 {
			t.Fatalf("Retry-After %s: within the cap: %v, %d requests; want held off", h, err, n.Load())
		}
		clock.advance(maxRetryAfter/2 + time.Second)
		if err := headWithin(t, c, host+"/app:v1", 5*time.Second); !strings.Contains(fmt.Sprint(err), "404 Not Found") || n.Load() != 2 {
			t.Errorf("Retry-After %s: after the cap: %v, %d requests; want the probe sent", h, err, n.Load())
		}
	}
}

// A 429 from a mirror hosts.toml puts in front of the registry holds off
// the mirror, another party, not the registry's own server.
func TestRetryAfterFromAMirrorDoesNotHoldTheRegistry(t *testing.T) {
	t.Parallel()
	mirror, m := rateLimited(t, 1, "3000")
	server, s := rateLimited(t, 0, "")
	dir := t.TempDir()
	hosts := fmt.Sprintf("server = %q\n[host.%q]\ncapabilities = [\"pull\", \"resolve\"]\n", "http://"+server, "http://"+mirror)
	if err := os.MkdirAll(filepath.Join(dir, server), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, server, "hosts.toml"), []byte(hosts), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{HostsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeWait{at: time.Now()}
	c.now, c.after = clock.now, clock.after
	if err := headWithin(t, c, server+"/app:v1", 5*time.Second); !RateLimited(err) || m.Load() != 1 {
		t.Fatalf("first: %v, mirror saw %d", err, m.Load())
	}
	if err := headWithin(t, c, server+"/app:v1", 5*time.Second); RateLimited(err) || m.Load() != 2 {
		t.Errorf("second: %v, mirror saw %d, server %d; want the request sent", err, m.Load(), s.Load())
	}
}

// A 429 from the host a registry redirects a blob to (a CDN, another
// party) holds off that host, not the registry; and the error does not
// quote the redirect's query, which may be a presigned signature.
func TestRetryAfterFromARedirectHost(t *testing.T) {
	t.Parallel()
	cdn, _ := rateLimited(t, 100, "3000")
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.Contains(r.URL.Path, "/blobs/") {
			http.Redirect(w, r, "http://user:pw@"+cdn+"/blob?X-Amz-Signature=s3cr3t", http.StatusTemporaryRedirect)
			return
		}
		http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	c, _ := New(Config{})
	clock := &fakeWait{at: time.Now()}
	c.now, c.after = clock.now, clock.after
	rt, err := c.route(host)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	_, err = hc.Get(srv.URL + "/v2/app/blobs/sha256:00")
	if !RateLimited(err) {
		t.Fatalf("blob: %v", err)
	}
	var rle *RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("blob: %v", err)
	}
	repo, _ := name.NewRepository(host + "/app")
	for _, e := range []error{rle, c.Explain(repo, err)} {
		if msg := e.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "X-Amz") || strings.Contains(msg, "user") {
			t.Errorf("the error quotes the query or userinfo: %v", msg)
		}
	}
	before := hits.Load()
	resp, err := hc.Get(srv.URL + "/v2/app/manifests/v1")
	if err != nil {
		t.Fatalf("the registry is held off by its CDN's 429: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != before+1 {
		t.Errorf("the registry saw %d requests, want 1", hits.Load()-before)
	}
}
