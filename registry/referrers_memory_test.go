package registry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/registry"
)

// hostileReferrers serves referrers listings of pages pages, each of about
// pageBytes bytes of valid descriptors, linked by Link headers.
func hostileReferrers(t *testing.T, pages, pageBytes int) string {
	t.Helper()
	desc := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","annotations":{"pad":"%s"}}`, strings.Repeat("b", 64), strings.Repeat("x", 800))
	n := pageBytes / (len(desc) + 1)
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` + strings.TrimSuffix(strings.Repeat(desc+",", n), ",") + `]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/referrers/") {
			w.WriteHeader(http.StatusOK)
			return
		}
		page := 0
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		if page+1 < pages {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d>; rel="next"`, r.URL.Path, page+1))
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// listConcurrently lists the referrers of k images at once, as k
// verifications would, and returns each one's error and the heap they hold
// between them once every listing has been read, before any ends.
func listConcurrently(t *testing.T, c *registry.Client, host string, k int) ([]error, int64) {
	t.Helper()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := int64(ms.HeapAlloc)
	errs := make([]error, k)
	kept := make([]any, k)
	var read, end sync.WaitGroup
	read.Add(k)
	end.Add(k)
	release := make(chan struct{})
	for i := range k {
		go func() {
			defer end.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel() // the verification ends
			d, _ := name.NewDigest(fmt.Sprintf("%s/app%d@sha256:%s", host, i, strings.Repeat("a", 64)))
			opts, err := c.Options(ctx, d.Context())
			if err == nil {
				var ii any
				ii, err = remote.Referrers(d, opts...)
				kept[i] = ii
			}
			errs[i] = err
			read.Done()
			<-release
		}()
	}
	read.Wait()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := int64(ms.HeapAlloc) - before
	close(release)
	end.Wait()
	runtime.KeepAlive(kept)
	return errs, held
}

// A hostile registry serving 16 pages of referrers to 8 verifications at
// once holds no more than the caps say: each listing, across its pages,
// is held to max_manifest_bytes, and all listings in flight to
// max_referrers_bytes; the denial names the cap (issue 26, item 8).
func TestHostileReferrersMemoryIsBounded(t *testing.T) {
	const k, pages, page = 8, 16, 1 << 20
	host := hostileReferrers(t, pages, page)
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	errs, held := listConcurrently(t, c, host, k)
	t.Logf("%d listings of %d pages of %d bytes at once: %.1f MiB held while in flight", k, pages, page, float64(held)/(1<<20))
	for i, err := range errs {
		// Over its own cap, or over the budget while the others are read.
		if err == nil || !strings.Contains(err.Error(), "(registry.max_manifest_bytes)") && !strings.Contains(err.Error(), "(registry.max_referrers_bytes)") {
			t.Errorf("listing %d: %v; want refused naming registry.max_manifest_bytes or max_referrers_bytes", i, err)
		}
	}
	if limit := int64(2*registry.DefaultMaxReferrersBytes + 8<<20); held > limit {
		t.Errorf("%.1f MiB held, want at most %.1f MiB", float64(held)/(1<<20), float64(limit)/(1<<20))
	}
}

// Listings each within their own cap share one budget: past it, a listing
// is refused naming registry.max_referrers_bytes, and what is held stays
// under it; the budget comes back when the verifications end.
func TestReferrersMemoryIsSharedAcrossVerifications(t *testing.T) {
	const k, page = 8, 1 << 20
	host := hostileReferrers(t, 1, page)
	c, err := registry.New(registry.Config{MaxManifestBytes: 2 << 20, MaxReferrersBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	errs, held := listConcurrently(t, c, host, k)
	t.Logf("%d one-page listings of %d bytes at once under a 4 MiB budget: %.1f MiB held", k, page, float64(held)/(1<<20))
	var ok, refused int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, registry.ErrReferrersMemory) && strings.Contains(err.Error(), "registry.max_referrers_bytes"):
			refused++
		default:
			t.Errorf("listing %d: %v", i, err)
		}
	}
	if ok == 0 || refused == 0 || ok > 4 {
		t.Errorf("%d listed, %d refused; want some of each, at most 4 listed", ok, refused)
	}
	// Given back as each verification's context ends (asynchronously).
	for i := 0; i < 1000 && c.ReferrersHeld() != 0; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if used := c.ReferrersHeld(); used != 0 {
		t.Errorf("%d bytes still charged after every verification ended", used)
	}
	// And with the budget back, a listing goes through again.
	if errs, _ := listConcurrently(t, c, host, 1); errs[0] != nil {
		t.Errorf("after the others ended: %v", errs[0])
	}
}
