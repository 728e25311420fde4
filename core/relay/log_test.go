package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestInviteJoinLeave(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		owner := insertNode(t, db, "technician", "Owner")
		helper := insertNode(t, db, "technician", "Helper")
		sid := insertSession(t, db, owner)
		log := NewLog(db, testOutbox, nil)
		collab := NewCollaboration(log)

		if _, _, err := collab.Join(ctx, sid, helper); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("join uninvited: %v", err)
		}
		if _, err := collab.Invite(ctx, sid, owner, helper); err != nil {
			t.Fatal(err)
		}
		if _, err := collab.Invite(ctx, sid, owner, helper); !fault.IsKind(err, fault.Conflict) {
			t.Fatalf("second invite: %v", err)
		}
		if _, err := collab.Invite(ctx, sid, owner, 999999); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("invite unknown technician: %v", err)
		}
		if ok, _ := collab.Invited(ctx, db, sid, helper); !ok {
			t.Fatal("not invited")
		}
		if _, joined, err := collab.Join(ctx, sid, helper); err != nil || !joined {
			t.Fatalf("join: %v %v", joined, err)
		}
		if _, joined, err := collab.Join(ctx, sid, helper); err != nil || joined {
			t.Fatalf("join again: %v %v", joined, err)
		}
		if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "hi"}); err != nil {
			t.Fatal(err)
		}
		if _, err := collab.Leave(ctx, sid, helper); err != nil {
			t.Fatal(err)
		}
		if _, err := collab.Leave(ctx, sid, helper); !fault.IsKind(err, fault.Conflict) {
			t.Fatalf("leave twice: %v", err)
		}
		if ok, _ := collab.Invited(ctx, db, sid, helper); ok {
			t.Fatal("still invited after leaving")
		}
		// Invited again, present again: two windows in the log.
		if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "missed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := collab.Invite(ctx, sid, owner, helper); err != nil {
			t.Fatalf("re-invite: %v", err)
		}
		if _, _, err := collab.Join(ctx, sid, helper); err != nil {
			t.Fatal(err)
		}
		if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindNote, SenderKind: SenderTechnician, SenderID: owner, Body: "note"}); err != nil {
			t.Fatal(err)
		}
		msgs, err := collab.LogFor(ctx, sid, helper)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, m := range msgs {
			seqs = append(seqs, m.Seq)
		}
		// 1 invited, 2 joined, 3 hi, 4 left, 5 missed, 6 invited, 7 joined, 8 note
		if fmt.Sprint(seqs) != "[2 3 4 7 8]" {
			t.Fatalf("collaboration log %v", seqs)
		}
	})
}

func TestAppendAssignsSeqAndDeduplicates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		sid := insertSession(t, db, 0)
		log := NewLog(db, testOutbox, nil)
		m1, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "one", ClientMsgID: "a"})
		if err != nil || m1.Seq != 1 || m1.Audience != AudienceAll {
			t.Fatalf("%+v %v", m1, err)
		}
		again, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "one", ClientMsgID: "a"})
		if err != nil || again.Seq != 1 {
			t.Fatalf("re-sent: %+v %v", again, err)
		}
		// After a restart (a new Log, nothing in memory) the log is searched.
		restarted := NewLog(db, testOutbox, nil)
		if again, err := restarted.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "one", ClientMsgID: "a"}); err != nil || again.Seq != 1 {
			t.Fatalf("re-sent after restart: %+v %v", again, err)
		}
		// The same id from another sender is another message.
		other, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderTechnician, SenderID: 7, Body: "two", ClientMsgID: "a"})
		if err != nil || other.Seq != 2 {
			t.Fatalf("other sender: %+v %v", other, err)
		}
		// LIKE wildcards in an id match only themselves.
		odd, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "w", ClientMsgID: `a%b_"c!`})
		if err != nil || odd.Seq != 3 {
			t.Fatalf("odd id: %+v %v", odd, err)
		}
		if m, _ := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "w", ClientMsgID: `aXbY"c!`}); m.Seq != 4 {
			t.Fatalf("wildcard matched: %+v", m)
		}
		if m, _ := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "w", ClientMsgID: `a%b_"c!`}); m.Seq != 3 {
			t.Fatalf("odd id re-sent: %+v", m)
		}
		note, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindNote, SenderKind: SenderTechnician, SenderID: 7, Body: "n"})
		if err != nil || note.Audience != AudienceTechnicians {
			t.Fatalf("note %+v %v", note, err)
		}
		if len(events(t, db, sid)) != 5 {
			t.Fatal("want 5 outbox events")
		}
		for _, bad := range []Message{
			{SessionID: sid, Kind: "gossip", SenderKind: SenderCustomer},
			{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Audience: AudienceTechnicians},
			{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: strings.Repeat("é", MaxTextRunes+1)},
		} {
			if _, err := log.Append(ctx, db, bad); !fault.IsKind(err, fault.Invalid) {
				t.Fatalf("%+v: %v", bad, err)
			}
		}
		if _, err := log.Append(ctx, db, Message{SessionID: 424242, Kind: KindChat, SenderKind: SenderCustomer}); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("unknown session: %v", err)
		}
		// A rolled-back caller transaction takes its message with it.
		_ = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := log.AppendSystem(ctx, tx, sid, "transferred", nil); err != nil {
				t.Fatal(err)
			}
			return fmt.Errorf("transition failed")
		})
		if n, _ := log.LastSeq(ctx, sid); n != 5 {
			t.Fatalf("last seq %d after rollback", n)
		}
	})
}

func TestConcurrentAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		sid := insertSession(t, db, 0)
		log := NewLog(db, testOutbox, nil)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					_, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderTechnician, SenderID: int64(w + 1),
						Body: "x", ClientMsgID: fmt.Sprintf("%d-%d", w, i)})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		all, err := log.After(ctx, sid, 0, TechnicianViewer(1), 0)
		if err != nil || len(all) != 100 {
			t.Fatalf("%d messages, %v", len(all), err)
		}
		for i, m := range all {
			if m.Seq != int64(i+1) {
				t.Fatalf("seq %d at %d", m.Seq, i)
			}
		}
		if len(events(t, db, sid)) != 100 {
			t.Fatal("want 100 outbox events")
		}
	})
}

func TestKeepChatTextOff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		sid := insertSession(t, db, 0)
		log := NewLog(db, testOutbox, nil)
		log.SetKeepChatText(false)
		m, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "my password is hunter2", ClientMsgID: "p"})
		if err != nil || m.Body != "my password is hunter2" {
			t.Fatalf("%+v %v", m, err)
		}
		if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindNote, SenderKind: SenderTechnician, SenderID: 1, Body: "kept note"}); err != nil {
			t.Fatal(err)
		}
		var body, payload string
		if err := db.QueryRowContext(ctx, "SELECT body, payload FROM session_messages WHERE session_id = ? AND seq = 1", sid).Scan(&body, &payload); err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		_ = json.Unmarshal([]byte(payload), &p)
		if body != "" || strings.Contains(payload, "hunter2") || p["text_kept"] != false || p["length"] != float64(22) {
			t.Fatalf("stored body %q payload %s", body, payload)
		}
		for _, e := range events(t, db, sid) {
			if strings.Contains(e.Payload, "hunter2") {
				t.Fatalf("text in the outbox: %s", e.Payload)
			}
		}
		// Live readers still get the text from memory...
		got, _ := log.After(ctx, sid, 0, CustomerViewer(), 0)
		if len(got) != 1 || got[0].Body != "my password is hunter2" {
			t.Fatalf("after: %+v", got)
		}
		// ... until the session ends (or the hub restarts).
		log.forget(sid)
		got, _ = log.After(ctx, sid, 0, TechnicianViewer(1), 0)
		if got[0].Body != "" || got[1].Body != "kept note" {
			t.Fatalf("after forget: %+v", got)
		}
	})
}

// TestKeepTextPolicyPerSession: the P2U-3 choice follows each session's
// group, so one session keeps its text while another does not.
func TestKeepTextPolicyPerSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		keep, drop := insertSession(t, db, 0), insertSession(t, db, 0)
		log := NewLog(db, testOutbox, nil)
		log.SetKeepTextPolicy(func(_ context.Context, sessionID int64) bool { return sessionID != drop })
		for _, sid := range []int64{keep, drop} {
			if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "card 4111"}); err != nil {
				t.Fatal(err)
			}
		}
		for sid, want := range map[int64]string{keep: "card 4111", drop: ""} {
			var body string
			if err := db.QueryRowContext(ctx, "SELECT body FROM session_messages WHERE session_id = ? AND seq = 1", sid).Scan(&body); err != nil {
				t.Fatal(err)
			}
			if body != want {
				t.Errorf("session %d stored %q, want %q", sid, body, want)
			}
		}
	})
}

func TestChatEnabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		sid := insertSession(t, db, 0)
		log := NewLog(db, nil, nil)
		want := map[org.ChatMode]bool{org.ChatOn: true, org.ChatOnToggle: true, org.ChatOffToggle: false, org.ChatOff: false}
		for mode, on := range want {
			if got, err := log.ChatEnabled(ctx, sid, mode); err != nil || got != on {
				t.Fatalf("%s: %v %v", mode, got, err)
			}
		}
		raw, _ := json.Marshal(ChatToggle{Enabled: true})
		if _, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChatToggle, SenderKind: SenderTechnician, SenderID: 1, Payload: raw}); err != nil {
			t.Fatal(err)
		}
		want = map[org.ChatMode]bool{org.ChatOn: true, org.ChatOnToggle: true, org.ChatOffToggle: true, org.ChatOff: false}
		for mode, on := range want {
			if got, err := log.ChatEnabled(ctx, sid, mode); err != nil || got != on {
				t.Fatalf("after toggle, %s: %v %v", mode, got, err)
			}
		}
	})
}

// TestClientMsgIDMigration: messages stored before migration 16 kept their
// client_msg_id only in the payload. The migration copies it into the
// column, so that a re-send after the upgrade still finds the first one.
func TestClientMsgIDMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		storetest.MigrateBefore(t, db, "20261125000016")
		sid := insertSession(t, db, 0)
		at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		for i, payload := range []string{`{"client_msg_id":"c-1"}`, `{}`, `{"client_msg_id":"t-1","x":1}`} {
			sender := SenderCustomer
			if i == 2 {
				sender = SenderTechnician
			}
			if _, err := db.NewRaw(`INSERT INTO session_messages (session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at)
VALUES (?, ?, 'chat', ?, 0, 'all', 'text', ?, ?)`, sid, i+1, sender, payload, at).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.MigrateUp(ctx, db); err != nil {
			t.Fatal(err)
		}
		var ids []string
		if err := db.NewRaw(`SELECT COALESCE(client_msg_id, 'NULL') FROM session_messages WHERE session_id = ? ORDER BY seq`, sid).Scan(ctx, &ids); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(ids); got != "[c-1 NULL t-1]" {
			t.Fatalf("client_msg_id after the migration: %s", got)
		}
		log := NewLog(db, testOutbox, nil)
		again, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "text", ClientMsgID: "c-1"})
		if err != nil || again.Seq != 1 {
			t.Fatalf("re-sent after the upgrade: %+v %v", again, err)
		}
		next, err := log.Append(ctx, db, Message{SessionID: sid, Kind: KindChat, SenderKind: SenderCustomer, Body: "new", ClientMsgID: "c-2"})
		if err != nil || next.Seq != 4 {
			t.Fatalf("a new message after the upgrade: %+v %v", next, err)
		}
	})
}
