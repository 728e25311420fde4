package settings

import (
	"sync"
	"time"
)

// Every session transition reads a handful of sections (permissions,
// timeouts, presence, terms ...) and each read walks the unit's ancestors
// and the settings table. Values change rarely, so a Service with a
// CacheTTL remembers which stored value applies to a (unit, section) and
// decodes it afresh on every read, so that no caller can change what the
// next one gets.
//
// A Save or Reset through the same Service, or Invalidate (the hub calls it
// when the organisation tree changes), forgets everything at once. Another
// hub node's changes are seen within CacheTTL.

type cacheKey struct {
	unit    int64
	section string
}

// resolution is which stored value applies to a unit's section: the unit
// itself, the source unit and its raw JSON; source nil is the default.
type resolution struct {
	unit    Unit
	source  *Unit
	raw     string
	expires time.Time
}

type cache struct {
	mu      sync.Mutex
	gen     uint64 // bumped by every invalidation
	entries map[cacheKey]resolution
}

// get returns a live resolution and the generation a miss must be stored
// under.
func (c *cache) get(k cacheKey, now time.Time) (resolution, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.entries[k]
	if ok && now.Before(r.expires) {
		return r, true, c.gen
	}
	return resolution{}, false, c.gen
}

// put stores a resolution read under generation gen; it is dropped when an
// invalidation came meanwhile (it may predate the change).
func (c *cache) put(gen uint64, k cacheKey, r resolution) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCacheEntries {
		c.entries = make(map[cacheKey]resolution)
	}
	c.entries[k] = r
}

func (c *cache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
}

// maxCacheEntries bounds the cache: past it, it starts over (units times
// sections; a large organisation's working set fits many times over).
const maxCacheEntries = 100_000

// Invalidate forgets every cached resolution; call it when the organisation
// tree changes (a unit moved or removed), as settings cannot see that.
func (s *Service) Invalidate() { s.cache.invalidate() }
