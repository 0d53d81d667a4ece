package policysource

import (
	"net/http"
	"net/http/httptest"
)

// inProcess is a RoundTripper that hands each request to a handler with
// no socket in between: how ServeLayout fills its registry.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	in := r.Clone(r.Context())
	if in.Body == nil {
		in.Body = http.NoBody // a server's request always has one
	}
	t.h.ServeHTTP(w, in)
	resp := w.Result()
	resp.Request = r // the client resolves Location against it
	return resp, nil
}

// readOnly serves h's reads only: anyone on the node may reach a loopback
// port, so writes and deletes are refused.
func readOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "the policy layout is served read-only", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}
