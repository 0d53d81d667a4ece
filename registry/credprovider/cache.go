package credprovider

import (
	"sync"
	"time"
)

// The cacheKeyType a plugin answers with: its credentials hold for the
// image, for every image of the registry, or for every image it matches.
const (
	cacheImage    = "Image"
	cacheRegistry = "Registry"
	cacheGlobal   = "Global"
	globalKey     = "global"
)

// maxCached bounds one provider's cache; expired entries are dropped
// first, then all (a node pulls from far fewer registries than this).
const maxCached = 1024

type entry struct {
	ring    *keyring
	expires time.Time
}

// cache is one provider's answers by key, as the kubelet keeps them.
type cache struct {
	mu sync.Mutex
	m  map[string]entry
}

// get looks image up under the image, its registry, then the global key,
// as the kubelet does.
func (c *cache) get(image string, now time.Time) (*keyring, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range []string{image, parseRegistry(image), globalKey} {
		e, ok := c.m[k]
		if !ok {
			continue
		}
		if !now.Before(e.expires) {
			delete(c.m, k)
			continue
		}
		return e.ring, true
	}
	return nil, false
}

// put keeps an answer for image, as resp says: under the key its
// cacheKeyType names, for its cacheDuration, or the provider's default
// when it gives none; not at all for a duration of 0.
func (c *cache) put(image string, resp *response, ring *keyring, def time.Duration, now time.Time) {
	d := def
	if resp.CacheDuration != nil {
		d, _ = time.ParseDuration(*resp.CacheDuration) // checked in run
	}
	if d <= 0 {
		return
	}
	key := globalKey
	switch resp.CacheKeyType {
	case cacheImage:
		key = image
	case cacheRegistry:
		key = parseRegistry(image)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]entry{}
	}
	if len(c.m) >= maxCached {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCached {
			c.m = map[string]entry{}
		}
	}
	c.m[key] = entry{ring: ring, expires: now.Add(d)}
}
