package verify_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// requestLog is a registry front that writes down every request, its
// repository and digests replaced by placeholders: the sequence a
// verification makes, comparable across runs.
type requestLog struct {
	mu  sync.Mutex
	seq []string
}

var (
	tagDigest = regexp.MustCompile(`sha256-[0-9a-f]{64}`)
	digest    = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	repoPath  = regexp.MustCompile(`^/v2/[^/]+/`)
)

func (l *requestLog) ServeHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := repoPath.ReplaceAllString(r.URL.Path, "/v2/R/")
		p = digest.ReplaceAllString(tagDigest.ReplaceAllString(p, "sha256-D"), "D")
		l.mu.Lock()
		l.seq = append(l.seq, r.Method+" "+p)
		l.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// take returns what was asked since the last take, sorted: signatures and
// attestations are read at once, in no fixed order between them.
func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Sorted(slices.Values(l.seq))
	l.seq = nil
	return out
}

// logged points e at a request-logging front of its own registry.
func logged(t *testing.T, e *env, referrers bool) *requestLog {
	l := &requestLog{}
	srv := httptest.NewServer(l.ServeHTTP(ggcrregistry.New(ggcrregistry.WithReferrersSupport(referrers), ggcrregistry.Logger(log.New(io.Discard, "", 0)))))
	t.Cleanup(srv.Close)
	e.host = strings.TrimPrefix(srv.URL, "http://")
	return l
}

// The requests each format's verification makes, pinned: a request more
// is a regression the fleet pays on every node (issue 30). A cold engine
// (its first verification) adds its one ping, and against a registry
// without the referrers API, the one probe of that API it then remembers
// (registry.NoReferrersAPIMemory). The floor per format, and why, is in
// docs/operations.md.
func TestRequestsPerVerification(t *testing.T) {
	t.Parallel()
	const (
		ping      = "GET /v2/"
		listing   = "GET /v2/R/referrers/D"        // the referrers API
		fallback  = "GET /v2/R/manifests/sha256-D" // the referrers tag, without the API
		sigTag    = "GET /v2/R/manifests/sha256-D.sig"
		attTag    = "GET /v2/R/manifests/sha256-D.att"
		manifest  = "GET /v2/R/manifests/D"  // a referrer's manifest
		blob      = "GET /v2/R/blobs/D"      // a signature's layer
		imageHead = "HEAD /v2/R/manifests/D" // notation: the signed descriptor
	)
	type format struct {
		name string
		// sign signs img; engine builds the engine for the format.
		setup func(t *testing.T, e *env) (sign func(name.Digest), eng *verify.Engine)
		// warm is the sequence with the API, and without it (the listing
		// replaced by the referrers tag).
		warm []string
	}
	cosignEngine := func(t *testing.T, e *env, atts ...*verify.AttestationRequirement) *verify.Engine {
		ps := policy(t, verify.Enforce, "any", false, "k1")
		ps[0].Attestations = atts
		return e.engine(ps, registry.Config{}, verify.Options{})
	}
	slsa := func(t *testing.T) *verify.AttestationRequirement {
		return attestation(t, "provenance", "slsaprovenance1", []string{"k1"})
	}
	formats := []format{
		{"cosign legacy (.sig tag)", func(t *testing.T, e *env) (func(name.Digest), *verify.Engine) {
			return func(d name.Digest) { must(t, e.signers["k1"].SignLegacy(d)) }, cosignEngine(t, e)
		}, []string{listing, sigTag, blob}},
		{"cosign bundle (referrer)", func(t *testing.T, e *env) (func(name.Digest), *verify.Engine) {
			return func(d name.Digest) { must(t, e.signers["k1"].SignBundle(d)) }, cosignEngine(t, e)
		}, []string{listing, manifest, blob}},
		{"cosign bundle and SLSA provenance bundle", func(t *testing.T, e *env) (func(name.Digest), *verify.Engine) {
			return func(d name.Digest) {
				must(t, e.signers["k1"].SignBundle(d))
				e.attest(d, "k1", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), true)
			}, cosignEngine(t, e, slsa(t))
		}, []string{listing, manifest, manifest, blob, blob}},
		{"cosign legacy and SLSA provenance (.att tag)", func(t *testing.T, e *env) (func(name.Digest), *verify.Engine) {
			return func(d name.Digest) {
				must(t, e.signers["k1"].SignLegacy(d))
				e.attest(d, "k1", "slsaprovenance1", provenance(appRepo, builderID, time.Now()), false)
			}, cosignEngine(t, e, slsa(t))
		}, []string{listing, sigTag, attTag, blob, blob}},
	}
	for _, f := range formats {
		for _, api := range []bool{true, false} {
			t.Run(f.name+map[bool]string{true: "", false: " without the referrers API"}[api], func(t *testing.T) {
				e := newEnv(t, api, 1)
				l := logged(t, e, api)
				sign, eng := f.setup(t, e)
				warm := slices.Clone(f.warm)
				cold := append(slices.Clone(warm), ping)
				if !api {
					for i, r := range warm {
						if r == listing {
							warm[i] = fallback
						}
					}
					cold = append(slices.Clone(warm), ping, listing)
				}
				for _, c := range []struct {
					what string
					want []string
				}{{"cold", cold}, {"warm", warm}} {
					img := e.image("app-" + c.what)
					sign(img)
					l.take()
					want(t, decide(t, eng, img), true, "")
					if got, want := l.take(), slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
						t.Errorf("%s engine: %d requests\n  %s\nwant %d\n  %s", c.what, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
					}
				}
			})
		}
	}

	t.Run("keyless bundle", func(t *testing.T) {
		k := newKeyless(t)
		l := logged(t, k.env, true)
		eng := k.engine(t, nil, []*verify.Identity{releaseWorkflow()}, "any", verify.TlogRequire)
		for _, c := range []struct {
			what string
			want []string
		}{{"cold", []string{ping, listing, manifest, blob}}, {"warm", []string{listing, manifest, blob}}} {
			img := k.image("app-" + c.what)
			must(t, k.sigstore.SignKeyless(img, release, ghIssuer, sigtest.KeylessOptions{}))
			l.take()
			want(t, decide(t, eng, img), true, "verified by release")
			if got, want := l.take(), slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
				t.Errorf("%s engine: %d requests\n  %s\nwant %d\n  %s", c.what, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
			}
		}
	})

	t.Run("notation", func(t *testing.T) {
		for _, api := range []bool{true, false} {
			n := newNotaryEnv(t)
			l := logged(t, n.env, api)
			sc, _ := verify.ParseScope("**")
			p := verify.Policy{Name: "test", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", nil, "a")}
			eng := verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{p}, Keys: n.store}, n.reg, verify.Options{})
			// notation-go reads the image's own descriptor (HEAD): the
			// signature signs its size and media type too.
			warm, cold := []string{imageHead, listing, manifest, blob}, []string{imageHead, listing, manifest, blob}
			if !api {
				warm, cold = []string{imageHead, fallback, manifest, blob}, []string{imageHead, listing, fallback, manifest, blob}
			}
			for _, c := range []struct {
				what string
				want []string
			}{{"cold", cold}, {"warm", warm}} {
				img := n.image("app-" + c.what)
				n.sign(img, "a", sigtest.JWS)
				l.take()
				want(t, decide(t, eng, img), true, "verified by a")
				if got, want := l.take(), slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
					t.Errorf("api=%v, %s engine: %d requests\n  %s\nwant %d\n  %s", api, c.what, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
				}
			}
		}
	})
}

// A policy requiring cosign and notation signatures lists the referrers
// once: notation takes its signatures from the listing cosign reads.
func TestCosignAndNotationShareOneListing(t *testing.T) {
	t.Parallel()
	const (
		listing   = "GET /v2/R/referrers/D"
		fallback  = "GET /v2/R/manifests/sha256-D"
		sigTag    = "GET /v2/R/manifests/sha256-D.sig"
		manifest  = "GET /v2/R/manifests/D"
		blob      = "GET /v2/R/blobs/D"
		imageHead = "HEAD /v2/R/manifests/D"
	)
	for _, api := range []bool{true, false} {
		n := newNotaryEnv(t)
		l := logged(t, n.env, api)
		sc, _ := verify.ParseScope("**")
		p := verify.Policy{Name: "test", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", nil, "a"),
			Cosign: &verify.CosignRequirement{Keys: []string{"k1"}, Threshold: 1}}
		eng := verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{p}, Keys: n.store}, n.reg, verify.Options{})
		// cosign: the listing, the .sig tag and its layer; notation: the
		// image's descriptor, its signature's manifest and blob.
		warm := []string{listing, sigTag, blob, imageHead, manifest, blob}
		cold := append(slices.Clone(warm), "GET /v2/")
		if !api {
			warm[0] = fallback
			cold = append(slices.Clone(warm), "GET /v2/", listing)
		}
		for _, c := range []struct {
			what string
			want []string
		}{{"cold", cold}, {"warm", warm}} {
			img := n.image("app-" + c.what)
			n.sign(img, "a", sigtest.JWS)
			must(t, n.signers["k1"].SignLegacy(img))
			l.take()
			want(t, decide(t, eng, img), true, "verified by a")
			if got, want := l.take(), slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
				t.Errorf("api=%v, %s engine: %d requests\n  %s\nwant %d\n  %s", api, c.what, len(got), strings.Join(got, "\n  "), len(want), strings.Join(want, "\n  "))
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
