package registry_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
)

// A registry without the referrers API (distribution 2.8 answers its route
// with a plain-text 404) is asked once; later listings go straight to the
// fallback tag. A 404 that is an OCI error speaks of one subject, and is
// asked again.
func TestNoReferrersAPIIsRemembered(t *testing.T) {
	for _, c := range []struct {
		name  string
		json  bool
		asked int64
	}{{"route missing", false, 1}, {"OCI error", true, 3}} {
		t.Run(c.name, func(t *testing.T) {
			reg := quietRegistry()
			var referrers atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/referrers/") {
					referrers.Add(1)
					if c.json {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						_, _ = w.Write([]byte(`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`))
						return
					}
					http.Error(w, "404 page not found", http.StatusNotFound)
					return
				}
				reg.ServeHTTP(w, r)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "http://")
			img, err := sigtest.PushImage(host + "/team/app:v1")
			if err != nil {
				t.Fatal(err)
			}
			// A signature in the fallback tag, where cosign puts one on such
			// a registry: found every time.
			s, err := sigtest.NewSigner()
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SignBundle(img); err != nil {
				t.Fatal(err)
			}
			referrers.Store(0) // cosign asked too, as it stored the bundle
			cl, err := registry.New(registry.Config{})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				opts, err := cl.Options(context.Background(), img.Context())
				if err != nil {
					t.Fatal(err)
				}
				idx, err := remote.Referrers(img, opts...)
				if err != nil {
					t.Fatal(err)
				}
				m, err := idx.IndexManifest()
				if err != nil || len(m.Manifests) != 1 {
					t.Fatalf("listing %d: %v, %d referrers; want the signature from the fallback tag", i, err, len(m.Manifests))
				}
			}
			if got := referrers.Load(); got != c.asked {
				t.Fatalf("the referrers API was asked %d times, want %d", got, c.asked)
			}
		})
	}
}
