package relay

import (
	"encoding/json"
	"sync"
)

// toggleCache holds the latest chat_toggle of each session. A version per
// session keeps a slow read from overwriting a newer toggle.
type toggleCache struct {
	mu       sync.Mutex
	per      map[int64]toggleState
	versions map[int64]uint64
}

type toggleState struct {
	known   bool // the log was read (or a toggle appended) since the last drop
	set     bool // a toggle exists
	enabled bool
}

func (t *toggleCache) get(sessionID int64) (toggleState, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.per[sessionID], t.versions[sessionID]
}

// fill stores what a read found, unless the session changed meanwhile.
func (t *toggleCache) fill(sessionID int64, st toggleState, version uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.versions[sessionID] == version {
		t.per[sessionID] = st
	}
}

// appended records a toggle appended through the Log; one inside a
// caller's transaction (which may roll back) only drops the cache.
func (t *toggleCache) appended(m Message, committed bool) {
	if !committed {
		t.drop(m.SessionID)
		return
	}
	var ct ChatToggle
	if err := json.Unmarshal(m.Payload, &ct); err != nil {
		t.drop(m.SessionID)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bump(m.SessionID)
	t.per[m.SessionID] = toggleState{known: true, set: true, enabled: ct.Enabled}
}

func (t *toggleCache) drop(sessionID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bump(sessionID)
	delete(t.per, sessionID)
}

func (t *toggleCache) bump(sessionID int64) {
	if t.versions == nil {
		t.versions = map[int64]uint64{}
	}
	t.versions[sessionID]++
}

// forget removes an ended session entirely.
func (t *toggleCache) forget(sessionID int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.per, sessionID)
	delete(t.versions, sessionID)
}
