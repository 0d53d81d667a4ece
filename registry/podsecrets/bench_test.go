package podsecrets

import (
	"context"
	"testing"
)

// What a pod's lookup costs a decision: cold (a new pod: a TLS
// connection, the pod and its secret read), and warm (the same pod's next
// container: from memory).
func BenchmarkForPod(b *testing.B) {
	f := newFakeAPI(b)
	f.pod("team", "app", "uid-1", "regcred")
	f.secret("team", "regcred", "7", host, "robot", "pw")
	pod := Pod{Namespace: "team", Name: "app", UID: "uid-1"}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			s, _ := f.source(b, false)
			if _, err := s.ForPod(context.Background(), pod); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		s, _ := f.source(b, false)
		if _, err := s.ForPod(context.Background(), pod); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := s.ForPod(context.Background(), pod); err != nil {
				b.Fatal(err)
			}
		}
	})
}
