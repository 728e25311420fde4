package sessions_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// recordingOutbox keeps what it is handed and can be told to fail. Like
// the plugin host, it records only the types it subscribes to (all when
// only is empty).
type recordingOutbox struct {
	mu     sync.Mutex
	events []sessions.Event
	fail   error
	only   string
}

func (o *recordingOutbox) Subscribes(eventType string) bool {
	return o.only == "" || o.only == eventType
}

func (o *recordingOutbox) Written(ctx context.Context, db bun.IDB, e sessions.Event) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	if !o.Subscribes(e.Type) {
		return nil
	}
	// The row must be visible inside the caller's transaction already.
	var n int
	if err := db.NewSelect().Table("session_events").ColumnExpr("count(*)").Where("id = ?", e.ID).Scan(ctx, &n); err != nil {
		return err
	}
	if n != 1 {
		return errors.New("event row not visible in the transaction")
	}
	o.events = append(o.events, e)
	return nil
}

func TestOutboxHearsEveryEventInTheTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		ob := &recordingOutbox{}
		w.svc.Outbox = ob
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Alice"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.svc.AppendEvent(ctx, db, c.Session.ID, "message.chat", w.techA1, map[string]any{"seq": 1}); err != nil {
			t.Fatal(err)
		}
		stored, err := w.svc.Events(ctx, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 2 || len(ob.events) != 2 {
			t.Fatalf("stored %d events, outbox heard %d; want 2 and 2", len(stored), len(ob.events))
		}
		for i := range stored {
			if stored[i].ID != ob.events[i].ID || stored[i].Type != ob.events[i].Type || stored[i].ID == 0 {
				t.Errorf("event %d: stored %+v, heard %+v", i, stored[i], ob.events[i])
			}
		}

		// An outbox that fails rolls the state change back with it.
		ob.fail = errors.New("delivery table unavailable")
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err == nil {
			t.Fatal("join succeeded although its outbox write failed")
		}
		got, err := w.svc.Get(ctx, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != c.Session.State {
			t.Errorf("state after failed outbox = %s, want unchanged %s", got.State, c.Session.State)
		}
		after, _ := w.svc.Events(ctx, c.Session.ID)
		if len(after) != 2 {
			t.Errorf("events after failed outbox = %d, want 2", len(after))
		}
	})
}

// TestOutboxHearsTheTypesItTakes: a change none of whose events the
// outbox takes is written without it (on PostgreSQL, without a
// transaction); one it takes is handed over in the change's transaction.
func TestOutboxHearsTheTypesItTakes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		ob := &recordingOutbox{only: "session.joined"}
		w.svc.Outbox = ob
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), c.Session.ID); err != nil {
			t.Fatal(err)
		}
		stored, err := w.svc.Events(ctx, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != 3 || len(ob.events) != 1 {
			t.Fatalf("stored %d events, outbox heard %d; want 3 and 1", len(stored), len(ob.events))
		}
		if heard := ob.events[0]; heard.Type != "session.joined" || heard.ID != stored[1].ID || heard.SessionID != c.Session.ID ||
			string(heard.Payload) != string(stored[1].Payload) || !heard.At.Equal(stored[1].At) {
			t.Fatalf("heard %+v, stored %+v", heard, stored[1])
		}
	})
}
