package nri

import (
	"strconv"
	"sync"
	"time"

	"github.com/containerd/nri/pkg/api"

	"github.com/signgate/signgate/containers"
)

// admittedSet remembers, briefly, which containers CreateContainer allowed,
// so that ValidateContainerAdjustment, which containerd sends next within
// the same NRI request, need not resolve and decide again.
//
// An admission is good only for that request: used once, for the same
// container in the same pod with the same image and mounts, on the same
// NRI connection, and within twice containerd's request timeout (the
// CreateContainer call and the validator call are each bounded by it). A
// CreateContainer containerd gave up on (signgate stopped, the host
// stalled) closes the connection, and with it every admission made on it:
// nothing decided for a request that failed can pass a later one.
type admittedSet struct {
	mu  sync.Mutex
	m   map[string]admittedEntry
	now func() time.Time // the clock; time.Now when nil
	ttl time.Duration    // how long an admission waits; admittedTTL when zero
}

type admittedEntry struct {
	what string // admissionKey of what was decided
	conn uint64 // the NRI connection the decision was asked on
	at   time.Time
}

// admittedTTL bounds an admission until containerd's request timeout is
// known.
const admittedTTL = 30 * time.Second

// maxAdmitted bounds the set; past it, expired entries are dropped.
const maxAdmitted = 1024

func (a *admittedSet) clock() time.Time {
	if a.now != nil {
		return a.now()
	}
	return time.Now()
}

func (a *admittedSet) lifetime() time.Duration {
	if a.ttl > 0 {
		return a.ttl
	}
	return admittedTTL
}

// setRequestTimeout sizes the lifetime from containerd's NRI request
// timeout.
func (a *admittedSet) setRequestTimeout(t time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t > 0 {
		a.ttl = 2 * t
	}
}

func (a *admittedSet) add(id, what string, conn uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.m == nil {
		a.m = map[string]admittedEntry{}
	}
	now := a.clock()
	if len(a.m) >= maxAdmitted {
		for k, e := range a.m {
			if now.Sub(e.at) >= a.lifetime() {
				delete(a.m, k)
			}
		}
	}
	a.m[id] = admittedEntry{what: what, conn: conn, at: now}
}

// take reports whether id was admitted for exactly what, on connection
// conn, moments ago; the admission is used up either way.
func (a *admittedSet) take(id, what string, conn uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.m[id]
	delete(a.m, id)
	return ok && e.what == what && e.conn == conn && a.clock().Sub(e.at) < a.lifetime()
}

// forget drops every admission: the connection they were made on is gone.
func (a *admittedSet) forget() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m = nil
}

// admissionKey names what CreateContainer decided for a container: its pod,
// the image it names and every mount (image volumes are decided too).
func admissionKey(pod *api.PodSandbox, ctr *api.Container) string {
	// Each part length-prefixed, so that no two different containers spell
	// the same key.
	ref := ctr.GetAnnotations()[containers.ImageNameAnnotation]
	n := len(pod.GetId()) + len(ref) + 8
	for _, m := range ctr.GetMounts() {
		n += len(m.GetSource()) + len(m.GetDestination()) + 8
	}
	b := make([]byte, 0, n)
	part := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	part(pod.GetId())
	part(ref)
	for _, m := range ctr.GetMounts() {
		part(m.GetSource())
		part(m.GetDestination())
	}
	return string(b)
}
