package hub_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestLifecycleOutbox: a whole private session through the hub's wiring
// leaves its outbox complete and in order. Each state change's event comes
// right before the event of the system message it wrote (both go in one
// statement), and that message event names the message's own number.
func TestLifecycleOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		h := newHub(t, db)
		_, techID := groupWithTechnician(t, h)
		tech := org.Actor{ID: techID, Role: org.KindTechnician}
		id := activeSession(t, h, tech)
		if _, err := h.Sessions.Close(ctx, tech, id); err != nil {
			t.Fatal(err)
		}
		events, err := h.Sessions.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		seq := int64(0)
		for i, e := range events {
			types = append(types, e.Type)
			if i > 0 && e.ID <= events[i-1].ID {
				t.Fatalf("event ids out of order: %+v", events)
			}
			if e.Type != "message.system" {
				continue
			}
			var m struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal(e.Payload, &m); err != nil {
				t.Fatal(err)
			}
			seq++
			if m.Seq != seq {
				t.Fatalf("message event %d names message %d, want %d: %s", e.ID, m.Seq, seq, e.Payload)
			}
		}
		want := "session.created message.system session.joined message.system session.picked_up message.system session.closed message.system"
		if got := strings.Join(types, " "); got != want {
			t.Fatalf("outbox:\n got %s\nwant %s", got, want)
		}
	})
}
