package daemon

import (
	"sync"

	"github.com/signgate/signgate/nri"
)

// recordQueue is how many decisions may wait to be written.
const recordQueue = 1024

// laterRecorder writes decisions to the log after signgate has answered,
// so writing one (about 50 µs through slog on a loaded bench machine, a
// blocking sendmsg when journald is slow) is not on the path of the
// creation it is about. One writer keeps the order; nothing is dropped:
// when the queue is full, Record waits, as writing directly did. Close
// writes what is queued.
type laterRecorder struct {
	ch   chan nri.Decision
	done chan struct{}
	once sync.Once
	mu   sync.RWMutex // Record holds it to send; Close to close the queue
	shut bool
	next nri.Recorder
}

func newLaterRecorder(next nri.Recorder) *laterRecorder {
	r := &laterRecorder{ch: make(chan nri.Decision, recordQueue), done: make(chan struct{}), next: next}
	go func() {
		defer close(r.done)
		for d := range r.ch {
			r.next.Record(d)
		}
	}()
	return r
}

// Record queues d; after Close it writes d itself.
func (r *laterRecorder) Record(d nri.Decision) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.shut {
		r.next.Record(d)
		return
	}
	r.ch <- d
}

// Close writes every queued decision and returns once they are written.
func (r *laterRecorder) Close() {
	r.once.Do(func() {
		r.mu.Lock()
		r.shut = true
		close(r.ch)
		r.mu.Unlock()
	})
	<-r.done
}
