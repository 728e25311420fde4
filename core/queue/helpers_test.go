package queue

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
}

// addNode inserts an organisation node with a fixed id.
func addNode(t *testing.T, db bun.IDB, id int64, kind string) {
	t.Helper()
	now := time.Now().UTC()
	if _, err := db.NewRaw("INSERT INTO nodes (id, kind, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		id, kind, kind, now, now).Exec(context.Background()); err != nil {
		t.Fatalf("insert node %d: %v", id, err)
	}
}

// addSession inserts a bare session row with a fixed id, for foreign keys.
func addSession(t *testing.T, db bun.IDB, id int64) {
	t.Helper()
	now := time.Now().UTC()
	if _, err := db.NewRaw("INSERT INTO sessions (id, kind, state, aggregate, created_at, updated_at) VALUES (?, 'private', 'waiting', '{}', ?, ?)",
		id, now, now).Exec(context.Background()); err != nil {
		t.Fatalf("insert session %d: %v", id, err)
	}
}

// eventually polls cond for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func fieldsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	if err == nil {
		return nil
	}
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid {
		t.Fatalf("error %v is not a validation fault", err)
	}
	return fe.Fields
}
