package verify_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/signgate/signgate/internal/testkit/sigtest"
	"github.com/signgate/signgate/registry"
	"github.com/signgate/signgate/verify"
)

// BenchmarkNotationNewImage verifies Notary Project JWS signatures of
// images new to a running engine, against an in-process registry without
// the referrers API: notation-go's own cost beside the requests.
func BenchmarkNotationNewImage(b *testing.B) {
	n := newNotaryEnv(&testing.T{})
	imgs := make([]name.Digest, 200)
	for i := range imgs {
		imgs[i] = n.image(fmt.Sprintf("notary/bench%d", i))
		n.sign(imgs[i], "a", sigtest.JWS)
	}
	warm := n.image("notary/warm")
	n.sign(warm, "a", sigtest.JWS)
	sc, _ := verify.ParseScope("**")
	p := verify.Policy{Name: "b", Scopes: []verify.Scope{sc}, Mode: verify.Enforce, Notation: notaryReq("strict", "any", nil, "a")}
	var eng *verify.Engine
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(imgs) == 0 { // each image new to the engine (but the last, which warms it)
			b.StopTimer()
			reg, _ := registry.New(registry.Config{})
			eng = verify.NewEngine(&verify.Snapshot{ID: "n", Policies: verify.Policies{p}, Keys: n.store}, reg, verify.Options{})
			eng.Decide(context.Background(), verify.Request{Image: warm})
			b.StartTimer()
		}
		if v := eng.Decide(context.Background(), verify.Request{Image: imgs[i%len(imgs)]}); !v.Allowed {
			b.Fatal(v.Reason)
		}
	}
}
