package daemon

import (
	"fmt"
	"sync"
	"testing"

	"github.com/signgate/signgate/nri"
)

type gatedRecorder struct {
	mu      sync.Mutex
	got     []string
	release chan struct{}
}

func (g *gatedRecorder) Record(d nri.Decision) {
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	g.got = append(g.got, d.Container)
}

// Recording a decision is not on the path of the answer: Record returns
// while the log writer is stuck (journald slow), every decision is
// written in order once it moves, and Close waits for them; after Close a
// decision is written at once.
func TestDecisionsAreWrittenAfterTheAnswerInOrder(t *testing.T) {
	g := &gatedRecorder{release: make(chan struct{})}
	r := newLaterRecorder(g)
	const n = 100
	for i := 0; i < n; i++ {
		r.Record(nri.Decision{Container: fmt.Sprint(i)}) // would block if written here
	}
	close(g.release)
	r.Close()
	if len(g.got) != n {
		t.Fatalf("%d of %d decisions written by Close", len(g.got), n)
	}
	for i, c := range g.got {
		if c != fmt.Sprint(i) {
			t.Fatalf("decision %d written as %s: out of order", i, c)
		}
	}
	r.Record(nri.Decision{Container: "late"})
	if g.got[len(g.got)-1] != "late" {
		t.Fatal("a decision after Close was not written")
	}
	r.Close() // twice is fine
}
