package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// activeSession makes a private session on h, joined and picked up.
func activeSession(t testing.TB, h *hub.Hub, tech org.Actor) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := h.Sessions.CreatePrivate(ctx, tech, sessions.PrivateInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Sessions.JoinByPIN(ctx, c.PIN, netip.MustParseAddr("192.0.2.10"), sessions.Client{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Sessions.PickUp(ctx, tech, c.Session.ID); err != nil {
		t.Fatal(err)
	}
	return c.Session.ID
}

// checkSystemEvents: every system message of the session has exactly one
// message.system event, whose payload is the stored message itself, and
// the messages are numbered 1, 2, 3 ... with no gap.
func checkSystemEvents(t *testing.T, h *hub.Hub, id int64) []sessions.Event {
	t.Helper()
	ctx := context.Background()
	events, err := h.Sessions.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := h.Relay.Log().After(ctx, id, 0, relay.TechnicianViewer(0), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var sys []sessions.Event
	for _, e := range events {
		if e.Type == "message.system" {
			sys = append(sys, e)
		}
	}
	if len(sys) != len(msgs) {
		t.Fatalf("%d message.system events for %d messages", len(sys), len(msgs))
	}
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(sys[i].Payload) != string(want) {
			t.Fatalf("event of message %d:\n got %s\nwant %s", m.Seq, sys[i].Payload, want)
		}
	}
	return events
}

// TestTwoNodesChangeOneSession: two hubs on one database take turns on a
// session, each holding its own copy of what it last wrote. A copy the
// other node overtook is neither trusted for a refusal nor written over:
// the change is made again on what is stored.
func TestTwoNodesChangeOneSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a, b := newHub(t, db), newHub(t, db)
		_, techID := groupWithTechnician(t, a)
		tech := org.Actor{ID: techID, Role: org.KindTechnician}
		id := activeSession(t, a, tech) // a's copy: active

		if _, err := b.Sessions.Hold(ctx, tech, id); err != nil {
			t.Fatal(err)
		}
		// a's copy says active, where resuming is refused; the table says
		// on hold.
		v, err := a.Sessions.Resume(ctx, tech, id)
		if err != nil {
			t.Fatalf("resume through the node whose copy is old: %v", err)
		}
		if v.State != session.Active {
			t.Fatalf("state %s after resume", v.State)
		}
		// b's copy says on hold at the version b wrote; closing is legal
		// there, but the version is gone.
		v, err = b.Sessions.Close(ctx, tech, id)
		if err != nil {
			t.Fatalf("close through the node whose copy is old: %v", err)
		}
		if v.State != session.Closed {
			t.Fatalf("state %s after close", v.State)
		}
		stored, err := a.Sessions.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.State != session.Closed {
			t.Fatalf("stored: %s", stored.State)
		}
		var types []string
		for _, e := range checkSystemEvents(t, a, id) {
			if e.Type != "message.system" {
				types = append(types, e.Type)
			}
		}
		want := []string{"session.created", "session.joined", "session.picked_up", "session.on_hold", "session.resumed", "session.closed"}
		if fmt.Sprint(types) != fmt.Sprint(want) {
			t.Fatalf("events %v, want %v", types, want)
		}
	})
}

// TestConcurrentChangesLoseNothing: two nodes change different fields of
// one session at the same time while the technician puts it on hold and
// back through a third path. Every change is kept: each field ends at its
// last value, each change has its one event, and every system message its
// one event with its own number.
func TestConcurrentChangesLoseNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		a, b := newHub(t, db), newHub(t, db)
		_, techID := groupWithTechnician(t, a)
		tech := org.Actor{ID: techID, Role: org.KindTechnician}
		id := activeSession(t, a, tech)

		const n = 25
		var wg sync.WaitGroup
		errs := make(chan error, 4*n)
		for field, h := range []*hub.Hub{a, b} {
			wg.Go(func() {
				for i := 1; i <= n; i++ {
					_, err := h.Sessions.SetFields(ctx, id, sessions.FieldUpdate{CFields: map[int]string{field: strconv.Itoa(i)}})
					errs <- err
				}
			})
		}
		wg.Go(func() {
			for i := range n {
				h := []*hub.Hub{a, b}[i%2]
				if _, err := h.Sessions.Hold(ctx, tech, id); err != nil {
					errs <- fmt.Errorf("hold %d: %w", i, err)
					return
				}
				if _, err := h.Sessions.Resume(ctx, tech, id); err != nil {
					errs <- fmt.Errorf("resume %d: %w", i, err)
					return
				}
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		v, err := b.Sessions.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Fields.CField[0] != strconv.Itoa(n) || v.Fields.CField[1] != strconv.Itoa(n) || v.State != session.Active {
			t.Fatalf("fields %q %q, state %s; want %d, %d, active", v.Fields.CField[0], v.Fields.CField[1], v.State, n, n)
		}
		count := map[string]int{}
		for _, e := range checkSystemEvents(t, a, id) {
			count[e.Type]++
		}
		if count["session.fields_changed"] != 2*n || count["session.on_hold"] != n || count["session.resumed"] != n {
			t.Fatalf("events: %v", count)
		}
	})
}
