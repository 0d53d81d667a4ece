package verify_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// basicAuthFront serves backend (a registry's URL) to robot:pw only; a
// request without them is answered 401, after refused sees it when not
// nil. It returns the front's host.
func basicAuthFront(t *testing.T, backend string, refused func(*http.Request)) string {
	t.Helper()
	back, _ := url.Parse(backend)
	proxy := httputil.NewSingleHostReverseProxy(back)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "robot" || p != "pw" {
			if refused != nil {
				refused(r)
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}
