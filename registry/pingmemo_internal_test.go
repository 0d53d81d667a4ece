package registry

import (
	"net/http"
	"testing"
)

type countingRT struct{ urls []string }

func (c *countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c.urls = append(c.urls, req.URL.String())
	return &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// Only a bare ping (GET /v2/, no query, no credentials) is answered from
// the memo: a request to /v2/ with a query is some other request, and
// reaches the registry.
func TestPingMemoAnswersOnlyABarePing(t *testing.T) {
	next := &countingRT{}
	p := &pingReplay{next: next, memo: &pingMemo{}}
	for _, u := range []string{"https://r.example/v2/", "https://r.example/v2/", "https://r.example/v2/?last=x&n=10"} {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{"https://r.example/v2/", "https://r.example/v2/?last=x&n=10"}
	if len(next.urls) != len(want) || next.urls[0] != want[0] || next.urls[1] != want[1] {
		t.Errorf("reached the registry: %q, want %q", next.urls, want)
	}
}
