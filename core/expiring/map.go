package expiring

import (
	"sync"
	"time"
)

// Map keeps values by key with the time each was stored. A reader that
// misses gets a generation and stores what it then read under it; a Forget
// in between drops that value, since it may predate the change Forget was
// called for. The zero Map is ready; past Max entries (DefaultMax when 0)
// it starts over.
type Map[K comparable, V any] struct {
	Max int

	mu      sync.Mutex
	gen     uint64
	entries map[K]entry[V]
}

type entry[V any] struct {
	v  V
	at time.Time
}

// DefaultMax bounds a Map whose Max is 0.
const DefaultMax = 100_000

// Get returns k's value if it was stored at most ttl before now (and not
// after now: a clock that went back trusts nothing), and the generation a
// miss must Put under.
func (m *Map[K, V]) Get(k K, now time.Time, ttl time.Duration) (v V, ok bool, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, found := m.entries[k]
	if found && !now.Before(e.at) && now.Sub(e.at) < ttl {
		return e.v, true, m.gen
	}
	return v, false, m.gen
}

// Put stores v for k as of at, unless a Forget came after the Get that
// returned gen.
func (m *Map[K, V]) Put(gen uint64, k K, v V, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.gen {
		return
	}
	limit := m.Max
	if limit <= 0 {
		limit = DefaultMax
	}
	if m.entries == nil || len(m.entries) >= limit {
		m.entries = make(map[K]entry[V])
	}
	m.entries[k] = entry[V]{v: v, at: at}
}

// Delete forgets k.
func (m *Map[K, V]) Delete(k K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, k)
}

// Forget forgets everything, and every value read before it.
func (m *Map[K, V]) Forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.entries = nil
}
