package imagestore

import (
	"context"
	"testing"
)

func BenchmarkKnownAndBound(b *testing.B) {
	f, s := start(&testing.T{})
	m, _, chain := f.image("app")
	f.images["127.0.0.1:5000/memory/app:v1"] = m.String()
	s.mem.imageChanged()
	ctx := context.Background()
	imgs, err := s.Resolve(ctx, "127.0.0.1:5000/memory/app:v1")
	if err != nil {
		b.Fatal(err)
	}
	_ = s.BuiltFrom(ctx, chain, "", imgs[0])
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.mem.snapshotPrepared("c", chain.String(), "overlayfs")
		imgs, c := s.Known("c", "127.0.0.1:5000/memory/app:v1")
		if len(imgs) != 1 || c != chain {
			b.Fatal("not known")
		}
		if err := s.BuiltFrom(ctx, c, "", imgs[0]); err != nil {
			b.Fatal(err)
		}
	}
}
