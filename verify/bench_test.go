package verify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// BenchmarkDecideCold verifies a signed image with no cached verdict and no
// open connections, against an in-process registry over loopback HTTP.
func BenchmarkDecideCold(b *testing.B) {
	for _, format := range []string{verify.FormatLegacy, verify.FormatBundle} {
		b.Run(format, func(b *testing.B) {
			e := newEnv(&testing.T{}, true, 1)
			imgs := make([]name.Digest, 50)
			for i := range imgs {
				d, err := pushAndSign(e, fmt.Sprintf("cold%d", i), format)
				if err != nil {
					b.Fatal(err)
				}
				imgs[i] = d
			}
			pol := policy(&testing.T{}, verify.Enforce, "any", false, "k1")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				reg, _ := registry.New(registry.Config{})
				eng := verify.NewEngine(&verify.Snapshot{ID: "b", Policies: pol, Keys: e.store}, reg, verify.Options{})
				if v := eng.Decide(context.Background(), verify.Request{Image: imgs[i%len(imgs)]}); !v.Allowed {
					b.Fatal(v.Reason)
				}
			}
		})
	}
}

// BenchmarkDecideWarm answers from the verdict cache.
func BenchmarkDecideWarm(b *testing.B) {
	e := newEnv(&testing.T{}, true, 1)
	d, err := pushAndSign(e, "warm", verify.FormatBundle)
	if err != nil {
		b.Fatal(err)
	}
	reg, _ := registry.New(registry.Config{})
	eng := verify.NewEngine(&verify.Snapshot{ID: "b", Config: "bench", Policies: policy(&testing.T{}, verify.Enforce, "any", false, "k1"), Keys: e.store}, reg, verify.Options{})
	req := verify.Request{Image: d}
	eng.Decide(context.Background(), req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if v := eng.Decide(context.Background(), req); !v.Allowed || !v.Cached {
			b.Fatal(v.Reason)
		}
	}
}

func pushAndSign(e *env, repo, format string) (name.Digest, error) {
	d := e.image(repo)
	var err error
	if format == verify.FormatLegacy {
		err = e.signers["k1"].SignLegacy(d)
	} else {
		err = e.signers["k1"].SignBundle(d)
	}
	return d, err
}
