package nri

import (
	"container/list"
	"sync"

	"github.com/signgate/signgate/verify"
)

// createdSet remembers what each created container runs and mounts, until
// it is removed, for the check at start and the judgements while it runs.
// It is bounded: when full, the entry added first is forgotten (one, not
// all: a container forgotten is decided in full, from the runtime's
// record), and a new NRI connection's Synchronize forgets every container
// containerd no longer lists (removed while signgate was away).
type createdSet struct {
	mu    sync.Mutex
	m     map[string]*list.Element // id -> its place in order
	order list.List                // of *createdEntry, oldest first
}

type createdEntry struct {
	id   string
	reqs []checked
}

const maxCreated = 16384

func (c *createdSet) add(id string, reqs []checked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*list.Element{}
	}
	if el, ok := c.m[id]; ok {
		c.order.Remove(el)
	}
	for len(c.m) >= maxCreated && c.order.Len() > 0 {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.m, oldest.Value.(*createdEntry).id)
	}
	c.m[id] = c.order.PushBack(&createdEntry{id: id, reqs: reqs})
}

func (c *createdSet) get(id string) ([]checked, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[id]
	if !ok {
		return nil, false
	}
	return el.Value.(*createdEntry).reqs, true
}

func (c *createdSet) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[id]; ok {
		c.order.Remove(el)
		delete(c.m, id)
	}
}

// retain forgets every container not in keep.
func (c *createdSet) retain(keep map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, el := range c.m {
		if !keep[id] {
			c.order.Remove(el)
			delete(c.m, id)
		}
	}
}

// checked is one image a container runs or mounts, as decided, so that
// StartContainer can ask again without resolving it again.
type checked struct {
	verify.Request
	ref string // how the decision names it
}
