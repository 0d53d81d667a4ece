package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxReferrerPages bounds how many pages of the referrers API one listing
// reads. A registry that paginates further is refused rather than read in
// part: a policy that every signature must verify has to see them all.
const MaxReferrerPages = 16

// ErrTooManyReferrerPages is returned past MaxReferrerPages.
var ErrTooManyReferrerPages = fmt.Errorf("more than %d pages of referrers", MaxReferrerPages)

// isReferrersPage tells a referrers API response that links a next page.
func isReferrersPage(req *http.Request, resp *http.Response) bool {
	return req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/referrers/") &&
		resp.StatusCode == http.StatusOK && resp.Header.Get("Link") != ""
}

// allPages follows the Link headers of a referrers listing (RFC 8288,
// rel="next", on the same registry) and returns one response holding every
// page's descriptors. go-containerregistry reads only the first page; doing
// it here, under the same credentials, serves every client of the
// transport at no extra round trip.
func allPages(req *http.Request, first *http.Response, next http.RoundTripper) (*http.Response, error) {
	var merged map[string]json.RawMessage
	var manifests []json.RawMessage
	resp, u := first, req.URL
	for page := 1; ; page++ {
		b, err := io.ReadAll(resp.Body) // each page capped by the transport
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		var idx map[string]json.RawMessage
		var ms []json.RawMessage
		err = json.Unmarshal(b, &idx)
		if err == nil && idx["manifests"] != nil {
			err = json.Unmarshal(idx["manifests"], &ms)
		}
		if err != nil || idx == nil {
			return nil, fmt.Errorf("a malformed referrers page from %s", u.Redacted())
		}
		if merged == nil {
			merged = idx
		}
		manifests = append(manifests, ms...)
		nu, err := nextPage(u, resp.Header.Get("Link"))
		if err != nil {
			return nil, err
		}
		if nu == nil {
			break
		}
		if page == MaxReferrerPages {
			return nil, fmt.Errorf("listing %s: %w", req.URL.Redacted(), ErrTooManyReferrerPages)
		}
		r := req.Clone(req.Context())
		r.URL, r.Host = nu, nu.Host
		if resp, err = next.RoundTrip(r); err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("page %d of %s: %s", page+1, nu.Redacted(), resp.Status)
		}
		u = nu
	}
	all, err := json.Marshal(manifests)
	if err != nil {
		return nil, err
	}
	merged["manifests"] = all
	body, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	out := *first
	out.Header = first.Header.Clone()
	out.Header.Del("Link")
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	out.ContentLength = int64(len(body))
	out.Body = io.NopCloser(bytes.NewReader(body))
	return &out, nil
}

// nextPage resolves a Link header's rel="next" target against cur; nil when
// there is none. The next page must be on the same registry.
func nextPage(cur *url.URL, link string) (*url.URL, error) {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
			continue
		}
		ref, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return nil, fmt.Errorf("a malformed Link header %q", link)
		}
		u := cur.ResolveReference(ref)
		if u.Host != cur.Host {
			return nil, fmt.Errorf("the next page of referrers is on another host (%s)", u.Host)
		}
		return u, nil
	}
	return nil, nil
}

// NoReferrersAPIMemory is how long a registry that answered a referrers
// request as an unknown route (distribution 2.8: a plain-text 404) is
// taken not to have the API: its later listings go straight to the
// fallback tag, saving a round trip per verification. A registry that
// gains the API within it is read through the fallback tag meanwhile,
// which can only miss signatures (deny), never invent them.
const NoReferrersAPIMemory = 5 * time.Minute

// referrersMemo remembers that one registry has no referrers API.
type referrersMemo struct {
	next  http.RoundTripper
	mu    sync.Mutex
	until time.Time
}

func isReferrersRequest(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/referrers/")
}

func (m *referrersMemo) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isReferrersRequest(req) {
		return m.next.RoundTrip(req)
	}
	m.mu.Lock()
	known := time.Now().Before(m.until)
	m.mu.Unlock()
	if known {
		// What the registry said last time; go-containerregistry then reads
		// the fallback tag.
		return &http.Response{
			Status: "404 Not Found", StatusCode: http.StatusNotFound, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: http.NoBody, Request: req,
		}, nil
	}
	resp, err := m.next.RoundTrip(req)
	// An OCI error body (JSON) is the registry speaking about this
	// subject; anything else is a route it does not have.
	if err == nil && resp.StatusCode == http.StatusNotFound && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		m.mu.Lock()
		m.until = time.Now().Add(NoReferrersAPIMemory)
		m.mu.Unlock()
	}
	return resp, err
}
