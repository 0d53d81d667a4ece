package verify_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// A repository holding more signature objects than registry.max_signatures
// is denied before any of them is fetched, with a cause that names the
// image and the cap; at the cap it verifies. Legacy .sig layers, bundle
// referrers and attestations alike.
func TestMaxSignatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true, 1)
	var blobs atomic.Int64
	next := e.srv.Config.Handler
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			blobs.Add(1)
		}
		next.ServeHTTP(w, r)
	})
	const limit = 3
	sign := map[string]func(img name.Digest){
		"legacy": func(img name.Digest) {
			if err := e.signers["k1"].SignLegacy(img); err != nil {
				t.Fatal(err)
			}
		},
		"bundle": func(img name.Digest) {
			if err := e.signers["k1"].SignBundle(img); err != nil {
				t.Fatal(err)
			}
		},
		"legacy attestation": func(img name.Digest) {
			e.attest(img, "k1", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), false)
		},
		"attestation bundle": func(img name.Digest) {
			e.attest(img, "k1", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), true)
		},
	}
	for kind, sign := range sign {
		t.Run(kind, func(t *testing.T) {
			ps := policy(t, verify.Enforce, "any", false, "k1")
			if strings.Contains(kind, "attestation") {
				ps[0].Cosign = nil
				ps[0].Attestations = []*verify.AttestationRequirement{attestation(t, "provenance", "slsaprovenance1", []string{"k1"})}
			}
			img := e.image(strings.ReplaceAll(kind, " ", "-"))
			for range limit {
				sign(img)
			}
			eng := e.engine(ps, registry.Config{}, verify.Options{MaxSignatures: limit})
			want(t, decide(t, eng, img), true, "verified by k1")

			sign(img)
			eng = e.engine(ps, registry.Config{}, verify.Options{MaxSignatures: limit})
			before := blobs.Load()
			v := decide(t, eng, img)
			want(t, v, false, fmt.Sprintf("image %s has %d ", img, limit+1))
			want(t, v, false, fmt.Sprintf("registry.max_signatures = %d", limit))
			if v.Cause != verify.CauseRegistryError {
				t.Errorf("cause %s; want %s", v.Cause, verify.CauseRegistryError)
			}
			if n := blobs.Load() - before; n != 0 {
				t.Errorf("%d blobs fetched before the cap denied", n)
			}
		})
	}
}
