package sessions_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestStoredTimersFollowTheState runs transitions with timers kept in
// session_timers (the prepared statements of queue.Timers): each state
// leaves exactly the timers it needs, and a refused transition cancels
// none.
func TestStoredTimersFollowTheState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.svc.Timers = &queue.Timers{DB: db, Now: w.clock.Now}
		kinds := func(id int64) []string {
			t.Helper()
			var ks []string
			if err := db.NewRaw("SELECT kind FROM session_timers WHERE session_id = ? ORDER BY kind", id).Scan(ctx, &ks); err != nil {
				t.Fatal(err)
			}
			return ks
		}
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
		if err != nil {
			t.Fatal(err)
		}
		id := c.Session.ID
		if got := kinds(id); !slices.Equal(got, []string{sessions.TimerTimeout}) {
			t.Fatalf("pending: timers %v, want the code's timeout", got)
		}
		// Another technician may not close it: nothing is cancelled.
		if _, err := w.svc.Close(ctx, w.actor(w.tB), id); err == nil {
			t.Fatal("another group's technician closed the session")
		}
		if got := kinds(id); !slices.Equal(got, []string{sessions.TimerTimeout}) {
			t.Fatalf("after a refused close: timers %v, want the timeout kept", got)
		}
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); err != nil {
			t.Fatal(err)
		}
		// Waiting without a waiting timeout (the world's policy): none.
		if got := kinds(id); len(got) != 0 {
			t.Fatalf("waiting: timers %v, want none", got)
		}
		w.policy.timeouts.Idle = 30 * time.Minute
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), id); err != nil {
			t.Fatal(err)
		}
		if got := kinds(id); !slices.Equal(got, []string{sessions.TimerTimeout}) {
			t.Fatalf("active with an idle timeout: timers %v, want the timeout", got)
		}
		if _, err := w.svc.Close(ctx, w.actor(w.techA1), id); err != nil {
			t.Fatal(err)
		}
		if got := kinds(id); len(got) != 0 {
			t.Fatalf("closed: timers %v, want none", got)
		}
	})
}
