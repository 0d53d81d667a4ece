package registry

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// observed tells Config.Observe of each exchange, timed until its body is
// closed (go-containerregistry closes every body it opens).
type observed struct {
	next    http.RoundTripper
	observe func(Exchange)
}

func (o *observed) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.next.RoundTrip(req)
	x := Exchange{Method: req.Method, URL: req.URL.Redacted()}
	if err != nil {
		x.Took = time.Since(start)
		o.observe(x)
		return resp, err
	}
	x.Status = resp.StatusCode
	resp.Body = &observedBody{ReadCloser: resp.Body, done: func() {
		x.Took = time.Since(start)
		o.observe(x)
	}}
	return resp, nil
}

type observedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *observedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
