package registry

import (
	"net/http"
	"sync"
	"time"
)

// pingMemo keeps each registry's answer to a ping (GET /v2/: 200, or 401
// and its challenge) for handshakeTTL, so that a handshake pings once, not
// twice (signgate's openness check, then go-containerregistry's own), and
// a new repository of a registry already pinged starts at its token
// request. It holds no credentials: a challenge is what the registry says
// to anyone.
type pingMemo struct {
	mu sync.Mutex
	m  map[string]pinged // by the ping's URL (scheme and host)
}

type pinged struct {
	status int
	header http.Header
	at     time.Time
}

func (p *pingMemo) get(url string) (pinged, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[url]
	if !ok || time.Since(e.at) > handshakeTTL {
		return pinged{}, false
	}
	return e, true
}

func (p *pingMemo) put(url string, e pinged) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= 256 {
		p.m = map[string]pinged{}
	}
	p.m[url] = e
}

// forget drops what registry said: it asked for credentials after all.
func (p *pingMemo) forget(registry string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, scheme := range []string{"https", "http"} {
		delete(p.m, scheme+"://"+registry+"/v2/")
	}
}

// pingReplay answers a ping from the memo while it is fresh, and keeps
// the answer of one it had to send.
type pingReplay struct {
	next http.RoundTripper
	memo *pingMemo
}

// isPing: a bare GET /v2/. With a query (a catalog-like request to /v2/
// on some registries) it is another request, never answered from the memo.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.URL.RawQuery == "" && !req.URL.ForceQuery &&
		req.Header.Get("Authorization") == ""
}

func (p *pingReplay) RoundTrip(req *http.Request) (*http.Response, error) {
	if !isPing(req) {
		return p.next.RoundTrip(req)
	}
	url := req.URL.Scheme + "://" + req.URL.Host + "/v2/"
	if e, ok := p.memo.get(url); ok {
		return &http.Response{
			Status: http.StatusText(e.status), StatusCode: e.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: e.header.Clone(), Body: http.NoBody, Request: req,
		}, nil
	}
	resp, err := p.next.RoundTrip(req)
	// Only what a handshake goes on from: an error or a 5xx is asked again.
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized) {
		p.memo.put(url, pinged{status: resp.StatusCode, header: resp.Header.Clone(), at: time.Now()})
	}
	return resp, err
}
