package httpapi_test

import (
	"context"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestTransitionsAndChatDoNotDeadlock: session transitions (which lock the
// session row and append a system message) racing chat appends (which
// insert rows referencing the session) must all succeed. With a plain
// FOR UPDATE PostgreSQL detected deadlocks here.
func TestTransitionsAndChatDoNotDeadlock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		_, _, tech := e.groupWithTechnician("dee@example.com")
		id, _ := e.activePrivate(tech)
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, 3*n)
		wg.Go(func() {
			for range n {
				errs <- e.hub.Sessions.CustomerDisconnected(ctx, id)
				errs <- e.hub.Sessions.CustomerConnected(ctx, id)
			}
		})
		wg.Go(func() {
			for range n {
				_, err := e.hub.Relay.Log().Append(ctx, db, relay.Message{SessionID: id, Kind: relay.KindChat,
					SenderKind: relay.SenderCustomer, Audience: relay.AudienceAll, Body: "ping"})
				errs <- err
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var chats int
		if err := db.NewRaw("SELECT count(*) FROM session_messages WHERE session_id = ? AND kind = 'chat'", id).Scan(ctx, &chats); err != nil || chats != n {
			t.Fatalf("%d chats stored, want %d (%v)", chats, n, err)
		}
	})
}
