package expiring

import (
	"testing"
	"time"
)

func TestMap(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	var m Map[string, int]
	_, ok, gen := m.Get("a", t0, time.Second)
	if ok {
		t.Fatal("an empty map has a value")
	}
	m.Put(gen, "a", 1, t0)
	steps := []struct {
		name string
		at   time.Time
		ttl  time.Duration
		ok   bool
	}{
		{"at once", t0, time.Second, true},
		{"within the TTL", t0.Add(999 * time.Millisecond), time.Second, true},
		{"at the TTL", t0.Add(time.Second), time.Second, false},
		{"a shorter TTL now", t0.Add(500 * time.Millisecond), 100 * time.Millisecond, false},
		{"a clock gone back", t0.Add(-time.Millisecond), time.Second, false},
	}
	for _, st := range steps {
		if v, ok, _ := m.Get("a", st.at, st.ttl); ok != st.ok || (ok && v != 1) {
			t.Errorf("%s: got %d, %v; want ok %v", st.name, v, ok, st.ok)
		}
	}

	// A read that a Forget overtook is not stored.
	_, _, stale := m.Get("b", t0, time.Second)
	m.Forget()
	m.Put(stale, "b", 2, t0)
	if _, ok, _ := m.Get("b", t0, time.Second); ok {
		t.Error("a value read before Forget was stored")
	}
	if _, ok, _ := m.Get("a", t0, time.Second); ok {
		t.Error("Forget kept a value")
	}

	_, _, gen = m.Get("c", t0, time.Second)
	m.Put(gen, "c", 3, t0)
	m.Delete("c")
	if _, ok, _ := m.Get("c", t0, time.Second); ok {
		t.Error("Delete kept the value")
	}

	small := Map[int, int]{Max: 2}
	for i := range 3 {
		_, _, g := small.Get(i, t0, time.Second)
		small.Put(g, i, i, t0)
	}
	if _, ok, _ := small.Get(0, t0, time.Second); ok {
		t.Error("a map past Max did not start over")
	}
	if v, ok, _ := small.Get(2, t0, time.Second); !ok || v != 2 {
		t.Error("a map that started over lost the newest value")
	}
}
