package imagestore

import (
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// memory is what containerd's events have told the store, so that a
// container's creation can be decided without asking containerd again:
// each snapshot's parent, from /snapshot/prepare, and which digest each
// image name pointed to when containerd was last asked.
//
// Why a remembered name is as good as asking: containerd publishes an
// image event after the change is committed and before the call that made
// it returns, and delivers one subscription's events in the order they
// were published. CRI pulls (the kubelet's, crictl's) update containerd's
// record before CRI's own, which its CreateContainer resolves from, and
// CreateContainer prepares the container's snapshot after resolving. So
// once the container's /snapshot/prepare has been applied here, every image
// event a CRI pull caused before that creation has been too, and any image
// event drops every remembered name. A name is remembered only from an
// answer containerd gave after this subscription was seen delivering, and
// with no image event in between. (A root process retagging images behind
// CRI's back is outside the threat model: it can run anything.)
type memory struct {
	mu           sync.Mutex
	snapshotters map[string]bool
	live         bool                   // an event has arrived on the current subscription
	epoch        uint64                 // bumped on each subscription
	imageEvents  uint64                 // bumped on each image event
	names        map[string]name.Digest // by the reference as given to Resolve
	snaps        map[string]prepared
}

type prepared struct {
	parent string
	at     time.Time
}

// Bounds: a snapshot prepared for a container is taken at its creation,
// moments later; the rest (layer unpacking, containers created outside
// CRI) is dropped by its commit or removal event, or by age.
const (
	maxNames    = 4096
	maxSnaps    = 4096
	snapshotAge = time.Minute
)

func newMemory(snapshotters []string) *memory {
	m := &memory{snapshotters: map[string]bool{}}
	for _, s := range snapshotters {
		m.snapshotters[s] = true
	}
	return m
}

// subscribed starts over: events may have been missed before this
// subscription, so nothing remembered from the last one stands.
func (m *memory) subscribed() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.epoch++
	m.live = false
	m.names = nil
	m.snaps = nil
}

// lost: the subscription ended; until the next one delivers, nothing is
// remembered or answered.
func (m *memory) lost() { m.subscribed() }

// imageChanged: some name may point elsewhere now. Every name is dropped,
// not only the one the event names: pulls are rare next to creations, and
// no spelling of a name can then outlive its change.
func (m *memory) imageChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = true
	m.imageEvents++
	m.names = nil
}

func (m *memory) snapshotPrepared(key, parent, snapshotter string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = true
	if !m.snapshotters[snapshotter] {
		return
	}
	now := time.Now()
	if len(m.snaps) >= maxSnaps {
		for k, p := range m.snaps {
			if now.Sub(p.at) > snapshotAge {
				delete(m.snaps, k)
			}
		}
		if len(m.snaps) >= maxSnaps {
			m.snaps = nil
		}
	}
	if m.snaps == nil {
		m.snaps = map[string]prepared{}
	}
	m.snaps[key] = prepared{parent: parent, at: now}
}

// snapshotGone: committed (a layer unpacked) or removed.
func (m *memory) snapshotGone(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.live = true
	delete(m.snaps, key)
}

// ticket is taken before asking containerd for a name, and redeemed with
// its answer.
type ticket struct {
	ok          bool
	epoch       uint64
	imageEvents uint64
}

func (m *memory) ticket() ticket {
	m.mu.Lock()
	defer m.mu.Unlock()
	return ticket{ok: m.live, epoch: m.epoch, imageEvents: m.imageEvents}
}

// remember keeps containerd's answer for a name, under each spelling
// given, unless an image event or a new subscription came between the
// ticket and now: the answer may then predate a change whose event was
// already applied.
func (m *memory) remember(t ticket, d name.Digest, refs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !t.ok || t.epoch != m.epoch || t.imageEvents != m.imageEvents {
		return
	}
	if m.names == nil || len(m.names) >= maxNames {
		m.names = map[string]name.Digest{}
	}
	for _, r := range refs {
		m.names[r] = d
	}
}

// parent is the layer chain the container's snapshot was prepared on,
// taken once; false when its prepare event has not been applied.
func (m *memory) parent(key string) (digest.Digest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.snaps[key]
	if !ok {
		return "", false
	}
	delete(m.snaps, key)
	d, err := digest.Parse(p.parent)
	if err != nil || time.Since(p.at) > snapshotAge {
		return "", false // asked of containerd, which explains it
	}
	return d, true
}

// container answers both lookups of a container's creation from memory:
// the snapshot's parent, and the digest ref pointed to as of that
// snapshot's preparation. chainKnown says the parent is (it is then taken);
// nameKnown needs it: only the prepare event orders the name after the
// pulls that preceded the creation.
func (m *memory) container(key, ref string) (chain digest.Digest, d name.Digest, chainKnown, nameKnown bool) {
	chain, chainKnown = m.parent(key)
	if !chainKnown {
		return "", name.Digest{}, false, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d, nameKnown = m.names[ref]
	return chain, d, true, nameKnown
}
