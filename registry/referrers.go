package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
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

// listing is one referrers listing being read: what it holds, against its
// own cap (max_manifest_bytes, across all its pages) and the budget every
// listing in flight shares (max_referrers_bytes).
type listing struct {
	url    string
	budget *budget
	limit  int64
	held   int64
}

func (l *listing) charge(n int64) error {
	if l.limit > 0 && l.held+n > l.limit {
		return &ReferrersMemoryError{URL: l.url, Cap: "max_manifest_bytes", Limit: l.limit}
	}
	if !l.budget.take(n) {
		return &ReferrersMemoryError{URL: l.url, Cap: "max_referrers_bytes", Limit: l.budget.limit}
	}
	l.held += n
	return nil
}

func (l *listing) uncharge(n int64) { l.budget.give(n); l.held -= n }

// readPage reads one page, charging its bytes before they are held: all
// at once when the registry announces the size (one exact allocation),
// else as they arrive.
func (l *listing) readPage(resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if err := l.charge(n); err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	var buf bytes.Buffer
	chunk := make([]byte, 4<<10)
	for {
		n, err := resp.Body.Read(chunk)
		if n > 0 {
			if cerr := l.charge(int64(n)); cerr != nil {
				return nil, cerr
			}
			buf.Write(chunk[:n])
		}
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readListing reads a referrers listing (a 200 to GET .../referrers/...)
// into memory under its caps, following the Link headers of a paginated
// one (RFC 8288, rel="next", on the same registry), and returns one
// response holding every page's descriptors. go-containerregistry reads
// only the first page; doing it here, under the same credentials, serves
// every client of the transport at no extra round trip. What the listing
// holds stays charged for as long as its reader may keep it: see heldBody.
func readListing(req *http.Request, first *http.Response, next http.RoundTripper, b *budget, limit int64) (_ *http.Response, err error) {
	l := &listing{url: errorURL(req.URL), budget: b, limit: limit}
	defer func() {
		if err != nil {
			l.budget.give(l.held)
		}
	}()
	resp, u := first, req.URL
	var out bytes.Buffer // the merged listing, once there is a second page
	for page := 1; ; page++ {
		body, err := l.readPage(resp) // each page also capped by the transport
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		nu, err := nextPage(u, resp.Header.Get("Link"))
		if err != nil {
			return nil, err
		}
		if page == 1 && nu == nil {
			// One page: passed on as the registry sent it.
			return held(req, first, body, l), nil
		}
		if err := l.appendPage(&out, body, page == 1, u); err != nil {
			return nil, err
		}
		if nu == nil {
			break
		}
		if page == MaxReferrerPages {
			return nil, fmt.Errorf("listing %s: %w", errorURL(req.URL), ErrTooManyReferrerPages)
		}
		r := req.Clone(req.Context())
		r.URL, r.Host = nu, nu.Host
		if resp, err = next.RoundTrip(r); err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("page %d of %s: %s", page+1, errorURL(nu), resp.Status)
		}
		u = nu
	}
	out.WriteString("]}")
	if err := l.charge(2); err != nil {
		return nil, err
	}
	return held(req, first, out.Bytes(), l), nil
}

// appendPage adds one page's descriptors to the merged listing in out,
// opening it with the first page's other fields, and gives back the page's
// own charge for what out now holds instead.
func (l *listing) appendPage(out *bytes.Buffer, body []byte, first bool, u *url.URL) error {
	var idx map[string]json.RawMessage
	var ms []json.RawMessage
	err := json.Unmarshal(body, &idx)
	if err == nil && idx["manifests"] != nil {
		err = json.Unmarshal(idx["manifests"], &ms)
	}
	if err != nil || idx == nil {
		return fmt.Errorf("a malformed referrers page from %s", errorURL(u))
	}
	before := out.Len()
	if first {
		out.WriteByte('{')
		keys := make([]string, 0, len(idx))
		for k := range idx {
			if k != "manifests" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			kb, _ := json.Marshal(k)
			out.Write(kb)
			out.WriteByte(':')
			out.Write(idx[k])
			out.WriteByte(',')
		}
		out.WriteString(`"manifests":[`)
	}
	for _, m := range ms {
		if out.Bytes()[out.Len()-1] != '[' {
			out.WriteByte(',')
		}
		out.Write(m)
	}
	l.uncharge(int64(len(body)))
	return l.charge(int64(out.Len() - before))
}

// held is first with body as its content, charged to l until closed.
func held(req *http.Request, first *http.Response, body []byte, l *listing) *http.Response {
	out := *first
	out.Header = first.Header.Clone()
	out.Header.Del("Link")
	out.Header.Set("Content-Length", strconv.Itoa(len(body)))
	out.ContentLength = int64(len(body))
	out.Body = newHeldBody(req.Context(), body, l.budget, l.held)
	return &out
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
