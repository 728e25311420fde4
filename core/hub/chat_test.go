package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

func chat(h *hub.Hub, db *bun.DB, session int64, kind relay.SenderKind, sender int64, id, text string) (relay.Message, error) {
	return h.Relay.Log().Append(context.Background(), db, relay.Message{SessionID: session, Kind: relay.KindChat,
		SenderKind: kind, SenderID: sender, Body: text, ClientMsgID: id})
}

// checkChatEvents: every chat message of the session has exactly one
// message.chat event, whose payload is the stored message, and the
// session's messages are numbered 1, 2, 3 ... with no gap.
func checkChatEvents(t *testing.T, h *hub.Hub, id int64) []relay.Message {
	t.Helper()
	ctx := context.Background()
	msgs, err := h.Relay.Log().After(ctx, id, 0, relay.TechnicianViewer(0), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	events, err := h.Sessions.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	payloads := map[int64][]string{}
	for _, e := range events {
		if e.Type != "message.chat" {
			continue
		}
		var m relay.Message
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			t.Fatalf("event %d: %v", e.ID, err)
		}
		payloads[m.Seq] = append(payloads[m.Seq], string(e.Payload))
	}
	var chats []relay.Message
	for i, m := range msgs {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
		if m.Kind != relay.KindChat {
			continue
		}
		chats = append(chats, m)
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := payloads[m.Seq]; len(got) != 1 || got[0] != string(want) {
			t.Fatalf("events of message %d:\n got %q\nwant one %s", m.Seq, got, want)
		}
		delete(payloads, m.Seq)
	}
	if len(payloads) != 0 {
		t.Fatalf("message.chat events for no message: %v", payloads)
	}
	return chats
}

// TestChatAppendsLoseNothing: the customer on one hub node and the
// technician on two chat at once into one session, each re-sending some
// messages as a reconnecting client does. Every message is stored once and
// a re-send gets the stored one back; the numbering has no gap; each chat
// message has exactly one event, which is the stored message.
func TestChatAppendsLoseNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		a, b := newHub(t, db), newHub(t, db)
		_, techID := groupWithTechnician(t, a)
		id := activeSession(t, a, org.Actor{ID: techID, Role: org.KindTechnician})
		type sender struct {
			h      *hub.Hub
			kind   relay.SenderKind
			id     int64
			prefix string
		}
		senders := []sender{{a, relay.SenderCustomer, 0, "a-c"}, {a, relay.SenderTechnician, techID, "a-t"}, {b, relay.SenderTechnician, techID, "b-t"}}
		const n = 30
		var wg sync.WaitGroup
		errs := make(chan error, len(senders))
		for _, s := range senders {
			wg.Go(func() {
				seqs := map[string]int64{}
				for i := 1; i <= n; i++ {
					cid := fmt.Sprintf("%s-%d", s.prefix, i)
					m, err := chat(s.h, db, id, s.kind, s.id, cid, "text "+cid)
					if err != nil {
						errs <- err
						return
					}
					seqs[cid] = m.Seq
					if i%5 == 0 { // re-send one sent earlier
						again := fmt.Sprintf("%s-%d", s.prefix, i-2)
						m, err := chat(s.h, db, id, s.kind, s.id, again, "text "+again)
						if err != nil {
							errs <- err
							return
						}
						if m.Seq != seqs[again] || m.Body != "text "+again {
							errs <- fmt.Errorf("re-send of %s: seq %d %q, want the stored %d", again, m.Seq, m.Body, seqs[again])
							return
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		chats := checkChatEvents(t, a, id)
		seen := map[string]bool{}
		for _, m := range chats {
			if seen[m.ClientMsgID] {
				t.Fatalf("%s stored twice", m.ClientMsgID)
			}
			seen[m.ClientMsgID] = true
		}
		if len(seen) != len(senders)*n {
			t.Fatalf("%d chat messages stored, want %d", len(seen), len(senders)*n)
		}
	})
}

// TestChatAppendIsOneStatementOnPostgres: a chat message and its event are
// one statement on PostgreSQL; a re-send is still found; with a plugin
// taking chat events an append goes back to a transaction, in which the
// Outbox hears the event.
func TestChatAppendIsOneStatementOnPostgres(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		if store.DialectOf(db) != store.Postgres {
			t.Skip("SQLite appends in a transaction of its own")
		}
		h := newHub(t, db)
		_, techID := groupWithTechnician(t, h)
		id := activeSession(t, h, org.Actor{ID: techID, Role: org.KindTechnician})
		// A log wired as the hub wires its own, on a pool of its own, so
		// that the hub's background work is not counted.
		ctx := context.Background()
		var schema string
		if err := db.NewRaw("SELECT current_schema()").Scan(ctx, &schema); err != nil {
			t.Fatal(err)
		}
		own, err := store.OpenPostgres(ctx, storetest.WithSearchPath(storetest.PostgresURL(), schema))
		if err != nil {
			t.Fatal(err)
		}
		defer own.Close()
		log := relay.NewLog(own, h.Sessions.AppendEvent, nil)
		log.SetEventPart(h.Sessions.EventPart)
		send := func(kind relay.SenderKind, sender int64, cid string) relay.Message {
			t.Helper()
			m, err := log.Append(ctx, own, relay.Message{SessionID: id, Kind: relay.KindChat, SenderKind: kind, SenderID: sender,
				Body: "hello " + cid, ClientMsgID: cid})
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		statements := storetest.CountStatements(own)
		const n = 10
		sent := map[string]int64{}
		for i := 1; i <= n; i++ {
			cid := fmt.Sprintf("c-%d", i)
			sent[cid] = send(relay.SenderCustomer, 0, cid).Seq
			send(relay.SenderTechnician, techID, "")
		}
		if got := statements(); got != 2*n {
			t.Fatalf("%d statements for %d appends, want one each", got, 2*n)
		}
		// Another node appends meanwhile; then a re-send, which the one
		// statement declines and the transaction path finds.
		if _, err := chat(h, db, id, relay.SenderTechnician, techID, "t-other", "from elsewhere"); err != nil {
			t.Fatal(err)
		}
		if m := send(relay.SenderCustomer, 0, "c-3"); m.Seq != sent["c-3"] || m.Body != "hello c-3" {
			t.Fatalf("re-send of c-3: seq %d %q, want the stored %d", m.Seq, m.Body, sent["c-3"])
		}
		// The same id from another sender is another message.
		if m := send(relay.SenderTechnician, techID, "c-3"); m.Seq == sent["c-3"] {
			t.Fatal("the technician's c-3 was taken for the customer's")
		}
		checkChatEvents(t, h, id)

		rec := &chatOutbox{}
		h.Sessions.Outbox = rec
		m, err := chat(h, db, id, relay.SenderCustomer, 0, "c-plugin", "a plugin hears this")
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.events) != 1 || rec.events[0].Type != "message.chat" {
			t.Fatalf("outbox heard %v", rec.events)
		}
		want, _ := json.Marshal(m)
		if string(rec.events[0].Payload) != string(want) {
			t.Fatalf("outbox payload\n got %s\nwant %s", rec.events[0].Payload, want)
		}
		if !rec.inTx {
			t.Fatal("the outbox heard the event outside the append's transaction")
		}
		checkChatEvents(t, h, id)
	})
}

// chatOutbox takes message.chat events and records whether it heard each
// in a transaction.
type chatOutbox struct {
	events []sessions.Event
	inTx   bool
}

func (o *chatOutbox) Subscribes(eventType string) bool { return eventType == "message.chat" }

func (o *chatOutbox) Written(_ context.Context, db bun.IDB, e sessions.Event) error {
	if e.Type != "message.chat" {
		return nil
	}
	_, o.inTx = db.(bun.Tx)
	o.events = append(o.events, e)
	return nil
}
