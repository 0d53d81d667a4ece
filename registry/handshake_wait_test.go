package registry_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
)

// Waiting for another caller's handshake of the same repository ends with
// the waiter's own deadline: a token service that hangs for one
// verification (with a long deadline) holds up no other past its own.
func TestHandshakeWaitEndsWithTheWaitersDeadline(t *testing.T) {
	release, asked := make(chan struct{}), make(chan struct{}, 1)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="test"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
		case "/token":
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case asked <- struct{}{}:
			default:
			}
			select { // a body that never ends (headers sent: no ResponseHeaderTimeout)
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := registry.New(registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/app")
	if err != nil {
		t.Fatal(err)
	}

	long, cancelLong := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLong()
	holder := make(chan struct{})
	go func() { defer close(holder); c.Options(long, repo) }()
	<-asked // the holder is in its handshake, waiting on the token
	defer func() { cancelLong(); <-holder }()

	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	c.Options(short, repo)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Options with a 200ms deadline returned after %s: it waited on another caller's handshake", took.Round(100*time.Millisecond))
	}
}
