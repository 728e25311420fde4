package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Event is an outbox row (session_events) as it is handed to Enqueue.
type Event struct {
	ID        int64 // session_events.id
	SessionID int64
	Type      string
	ActorID   int64
	Payload   json.RawMessage // a JSON object; empty means {}
	At        time.Time
}

// StableID is the ID plugins see for an outbox event; it is the same on
// every attempt and replay, so receivers de-duplicate on it.
func StableID(eventID int64) string { return "evt_" + strconv.FormatInt(eventID, 10) }

// Enqueue writes one delivery of ev per plugin. db must be the transaction
// that writes ev's outbox row, so that the deliveries exist exactly when the
// event does; call Queue.Wake after the commit. The event's time is the
// deliveries' creation time. Enqueueing the same event for the same plugin
// again does nothing.
//
// A delivery is pending, due at once, when its plugin has no pending or
// blocked delivery of the same session; otherwise it waits blocked until
// the ones before it have ended (see the package documentation). A running
// one does not block it: the claim's guard holds it back until that one is
// recorded, and making it blocked would race the recording of its end
// (which promotes only committed rows) and leave it to repair. That costs
// two index probes per plugin in the caller's transaction.
func Enqueue(ctx context.Context, db bun.IDB, ev Event, plugins []string) error {
	if len(plugins) == 0 {
		return nil
	}
	payload := string(ev.Payload)
	if strings.TrimSpace(payload) == "" {
		payload = "{}"
	} else if !json.Valid(ev.Payload) {
		return fmt.Errorf("enqueue event %d: payload is not valid JSON", ev.ID)
	}
	at := ev.At.UTC().Truncate(time.Microsecond)

	var q strings.Builder
	q.WriteString(`INSERT INTO plugin_deliveries (plugin_id, event_id, session_id, event_type, actor_id, payload, event_at,
	state, attempts, window_attempts, next_at, created_at, claimed_by, last_error) VALUES `)
	args := make([]any, 0, 13*len(plugins))
	for i, p := range plugins {
		if p == "" {
			return fmt.Errorf("enqueue event %d: empty plugin id", ev.ID)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		// The state terms repeat the partial indexes' predicates word for
		// word, or SQLite would not use them.
		q.WriteString(`(?, ?, ?, ?, ?, ?, ?,
	CASE WHEN EXISTS (SELECT 1 FROM plugin_deliveries h
			WHERE h.plugin_id = ? AND h.session_id = ? AND h.state = 'pending')
		OR EXISTS (SELECT 1 FROM plugin_deliveries b
			WHERE b.plugin_id = ? AND b.session_id = ? AND b.state = 'blocked')
		THEN 'blocked' ELSE 'pending' END,
	0, 0, ?, ?, '', '')`)
		args = append(args, p, ev.ID, ev.SessionID, ev.Type, ev.ActorID, payload, at,
			p, ev.SessionID, p, ev.SessionID, at, at)
	}
	q.WriteString(" ON CONFLICT (plugin_id, event_id) DO NOTHING")
	if _, err := db.NewRaw(q.String(), args...).Exec(ctx); err != nil {
		return fmt.Errorf("enqueue event %d for %d plugins: %w", ev.ID, len(plugins), err)
	}
	return nil
}
