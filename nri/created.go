package nri

import (
	"sync"

	"github.com/signgate/signgate/verify"
)

// createdSet remembers what each created container runs and mounts, until
// it is removed, for the check at start. It is bounded: a container
// forgotten is decided in full at start.
type createdSet struct {
	mu sync.Mutex
	m  map[string][]checked
}

const maxCreated = 16384

func (c *createdSet) add(id string, reqs []checked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCreated {
		c.m = map[string][]checked{}
	}
	c.m[id] = reqs
}

func (c *createdSet) get(id string) ([]checked, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

func (c *createdSet) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// checked is one image a container runs or mounts, as decided, so that
// StartContainer can ask again without resolving it again.
type checked struct {
	verify.Request
	ref string // how the decision names it
}
