package relay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

// seqMessage reads frames up to the message seq; a later message first fails.
func seqMessage(t testing.TB, c *client, seq int64) ServerFrame {
	t.Helper()
	for {
		f := c.next(t)
		if f.Type != TypeMessage {
			continue
		}
		if f.Seq == seq {
			return f
		}
		if f.Seq > seq {
			t.Fatalf("got message %d before %d: %+v", f.Seq, seq, f)
		}
	}
}

// messages reads n message frames, skipping acks.
func messages(t testing.TB, c *client, n int) []ServerFrame {
	t.Helper()
	var out []ServerFrame
	for len(out) < n {
		f := c.next(t)
		switch f.Type {
		case TypeMessage:
			out = append(out, f)
		case TypeAck:
		default:
			t.Fatalf("got %+v, want a message", f)
		}
	}
	return out
}

func TestChatBothWays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		if cust.hello.Role != "customer" || tech.hello.Role != "owner" || !cust.hello.ChatEnabled || cust.hello.State != "Active" {
			t.Fatalf("hello: customer %+v technician %+v", cust.hello, tech.hello)
		}

		ack := cust.chat(t, "c-1", "My printer is on fire")
		if ack.Seq != 1 {
			t.Fatalf("ack seq %d, want 1", ack.Seq)
		}
		// Acknowledged means stored.
		stored, err := h.srv.Log().Get(context.Background(), h.session, ack.Seq)
		if err != nil || stored.Body != "My printer is on fire" || stored.SenderKind != SenderCustomer {
			t.Fatalf("stored %+v, %v", stored, err)
		}
		got := tech.expect(t, TypeMessage)
		if got.Seq != 1 || got.Kind != KindChat || got.Body != "My printer is on fire" || got.SenderKind != SenderCustomer || got.ClientMsgID != "c-1" {
			t.Fatalf("technician got %+v", got)
		}

		ack = tech.chat(t, "t-1", "Unplug it, please.")
		if ack.Seq != 2 {
			t.Fatalf("ack seq %d, want 2", ack.Seq)
		}
		got = messages(t, cust, 2)[1] // its own message echoes first
		if got.Seq != 2 || got.Body != "Unplug it, please." || got.SenderKind != SenderTechnician || got.SenderID != h.owner {
			t.Fatalf("customer got %+v", got)
		}

		ev := events(t, db, h.session)
		if len(ev) != 2 || ev[0].Type != "message.chat" || ev[1].Type != "message.chat" || ev[1].ActorID != h.owner {
			t.Fatalf("outbox %+v", ev)
		}
		if !strings.Contains(ev[0].Payload, "My printer is on fire") {
			t.Fatalf("outbox payload %s lacks the text", ev[0].Payload)
		}
		if h.sessions.get(h.sessions.activity, h.session) < 2 {
			t.Fatal("activity not recorded")
		}
	})
}

func TestNotesAndTechnicianChatInvisibleToCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)

		tech.send(t, ClientFrame{Type: TypeNote, ClientMsgID: "n1", Text: "customer sounds stressed"})
		tech.send(t, ClientFrame{Type: TypeChat, ClientMsgID: "n2", Text: "anyone seen this model?", Audience: AudienceTechnicians})
		tech.chat(t, "n3", "Hello!")
		got := cust.expect(t, TypeMessage)
		if got.Seq != 3 || got.Body != "Hello!" {
			t.Fatalf("customer got %+v, want only seq 3", got)
		}
		cust.quiet(t, 100*time.Millisecond)

		ctx := context.Background()
		custLog, _ := h.srv.Log().ChatLog(ctx, h.session, CustomerViewer())
		techLog, _ := h.srv.Log().ChatLog(ctx, h.session, TechnicianViewer(h.owner))
		if len(custLog) != 1 || len(techLog) != 3 || techLog[0].Kind != KindNote || techLog[0].Audience != AudienceTechnicians {
			t.Fatalf("customer log %+v, technician log %+v", custLog, techLog)
		}
		// Reconnecting from 0 does not reveal them either.
		again := h.customer(0)
		if m := again.expect(t, TypeMessage); m.Seq != 3 {
			t.Fatalf("resumed customer got %+v", m)
		}
		again.quiet(t, 100*time.Millisecond)
		if ev := events(t, db, h.session); len(ev) != 3 || ev[0].Type != "message.note" {
			t.Fatalf("outbox %+v", ev)
		}
	})
}

func TestSystemMessageDelivered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		ctx := context.Background()
		// As core/sessions does: inside its transaction, then Notify and PushState.
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			_, err := h.srv.Log().AppendSystem(ctx, tx, h.session, "Session put on hold.", map[string]string{"event": "hold"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		h.srv.Hub().Notify(h.session)
		h.srv.Hub().PushState(h.session, "On Hold")
		for _, c := range []*client{cust, tech} {
			var sawMsg, sawState bool
			for !sawMsg || !sawState {
				f := c.next(t)
				switch {
				case f.Type == TypeMessage && f.Kind == KindSystem && f.Body == "Session put on hold." && f.SenderKind == SenderSystem:
					sawMsg = true
				case f.Type == TypeState && f.State == "On Hold":
					sawState = true
				default:
					t.Fatalf("unexpected %+v", f)
				}
			}
		}
		if ev := events(t, db, h.session); len(ev) != 1 || ev[0].Type != "message.system" || ev[0].ActorID != 0 {
			t.Fatalf("outbox %+v", ev)
		}
	})
}

func TestResumeAfterDrop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		tech := h.technician(h.owner, 0)
		cust := h.customer(0)
		for i := 1; i <= 3; i++ {
			tech.chat(t, fmt.Sprintf("t-%d", i), fmt.Sprintf("step %d", i))
		}
		seen := messages(t, cust, 3)
		last := seen[2].Seq

		// The customer's network drops.
		cust.ws.CloseNow()
		waitFor(t, func() bool { return h.sessions.get(h.sessions.disconnected, h.session) == 1 })
		tech.chat(t, "t-4", "are you there?")
		tech.chat(t, "t-5", "I will wait")

		// Resume by URL: exactly the two missed messages.
		back := h.customer(last)
		if back.hello.ResumeAfter != last || back.hello.LastSeq != 5 {
			t.Fatalf("hello %+v", back.hello)
		}
		got := messages(t, back, 2)
		if got[0].Seq != 4 || got[1].Seq != 5 || got[0].Body != "are you there?" {
			t.Fatalf("resumed with %+v", got)
		}
		back.quiet(t, 100*time.Millisecond)

		// A message sent before the drop whose ack was lost is sent again:
		// same seq, no duplicate row, no new event.
		before := len(events(t, db, h.session))
		first := back.chat(t, "c-1", "back online")
		messages(t, back, 1)
		back.ws.CloseNow()
		again := h.customer(first.Seq)
		ack := again.chat(t, "c-1", "back online")
		if ack.Seq != first.Seq {
			t.Fatalf("re-sent message got seq %d, want %d", ack.Seq, first.Seq)
		}
		again.quiet(t, 100*time.Millisecond)
		if n, _ := h.srv.Log().LastSeq(context.Background(), h.session); n != first.Seq {
			t.Fatalf("last seq %d, want %d", n, first.Seq)
		}
		if ev := events(t, db, h.session); len(ev) != before+1 {
			t.Fatalf("events %d, want %d", len(ev), before+1)
		}
		// The technician saw each message once.
		for i, m := range messages(t, tech, 6) {
			if m.Seq != int64(i+1) {
				t.Fatalf("technician got seq %d as message %d", m.Seq, i+1)
			}
		}
		tech.quiet(t, 100*time.Millisecond)
	})
}

func TestResumeAsFirstFrame(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		tech := h.technician(h.owner, 0)
		for i := 1; i <= 3; i++ {
			tech.chat(t, fmt.Sprintf("t-%d", i), "hi")
		}
		c, err := dialClient(h.wsURL("/api/v1/relay/customer?access_token="+secret), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.ws.CloseNow()
		after := int64(2)
		c.send(t, ClientFrame{Type: TypeResume, After: &after})
		if hello := c.expect(t, TypeHello); hello.ResumeAfter != 2 {
			t.Fatalf("hello %+v", hello)
		}
		if m := c.expect(t, TypeMessage); m.Seq != 3 {
			t.Fatalf("got %+v", m)
		}
		if e := c.errorFor(t, ClientFrame{Type: TypeResume, After: &after}); e.Code != "bad_request" {
			t.Fatalf("second resume: %+v", e)
		}
	})
}

func TestRefusedConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		stranger := insertNode(t, db, "technician", "Stranger")
		cases := []struct {
			name   string
			url    string
			header http.Header
			status int
		}{
			{"no secret", "/api/v1/relay/customer", nil, 401},
			{"bad secret", "/api/v1/relay/customer?access_token=nope", nil, 401},
			{"bad resume", "/api/v1/relay/customer?resume_after=x&access_token=" + secret, nil, 422},
			{"no token", fmt.Sprintf("/api/v1/relay/sessions/%d", h.session), nil, 401},
			{"not his session", fmt.Sprintf("/api/v1/relay/sessions/%d", h.session), http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", stranger)}}, 403},
			{"no session", "/api/v1/relay/sessions/999999", http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", h.owner)}}, 404},
		}
		for _, tc := range cases {
			_, err := dialClient(h.wsURL(tc.url), tc.header)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("status %d", tc.status)) {
				t.Errorf("%s: %v, want status %d", tc.name, err, tc.status)
			}
		}
		h.sessions.update(h.session, func(s *SessionInfo) { s.Live = false })
		if _, err := dialClient(h.wsURL("/api/v1/relay/customer?access_token="+secret), nil); err == nil || !strings.Contains(err.Error(), "status 409") {
			t.Errorf("ended session: %v", err)
		}
	})
}

func TestForbiddenActions(t *testing.T) {
	all := *org.DefaultPermissions()
	without := func(f func(*org.Permissions)) org.Permissions {
		p := all
		f(&p)
		return p
	}
	cases := []struct {
		name       string
		perms      org.Permissions
		frame      ClientFrame
		permission string
	}{
		{"url", without(func(p *org.Permissions) { p.SendURLs = false }), ClientFrame{Type: TypeURL, URL: "https://example.com/fix"}, "send_urls"},
		{"file offer", without(func(p *org.Permissions) { p.SendFiles = false }), ClientFrame{Type: TypeFileOffer, Name: "fix.exe", Size: 3, SHA256: strings.Repeat("ab", 32)}, "send_files"},
		{"tool", without(func(p *org.Permissions) { p.Reboot = false }), ClientFrame{Type: TypeTool, Name: "reboot"}, "reboot"},
		{"scripts by default", all, ClientFrame{Type: TypeTool, Name: "deploy_scripts"}, "deploy_scripts"},
		{"invite", without(func(p *org.Permissions) { p.InviteCollaborators = false }), ClientFrame{Type: TypeInvite, TechnicianID: 1}, "invite_collaborators"},
		{"chat off", without(func(p *org.Permissions) { p.Chat, p.ChatToggle = false, false }), ClientFrame{Type: TypeChat, Text: "secret words"}, "chat"},
		{"chat off_toggle at start", without(func(p *org.Permissions) { p.Chat = false }), ClientFrame{Type: TypeChat, Text: "secret words"}, "chat"},
		{"toggle in mode on", without(func(p *org.Permissions) { p.ChatToggle = false }), ClientFrame{Type: TypeChatToggle, Enabled: new(bool)}, "chat_toggle"},
		{"toggle in mode off", without(func(p *org.Permissions) { p.Chat, p.ChatToggle = false, false }), ClientFrame{Type: TypeChatToggle, Enabled: new(bool)}, "chat_toggle"},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				h := newHarness(t, db)
				h.sessions.setPerms(h.owner, tc.perms)
				tech := h.technician(h.owner, 0)
				tc.frame.ClientMsgID = "x"
				e := tech.errorFor(t, tc.frame)
				if e.Code != "forbidden" || !strings.Contains(e.Error, tc.permission) || e.Ref != "x" {
					t.Fatalf("error %+v, want forbidden naming %s", e, tc.permission)
				}
				logs := h.logs.String()
				if !strings.Contains(logs, "relay action refused") || !strings.Contains(logs, "permission="+tc.permission) {
					t.Fatalf("refusal not logged: %s", logs)
				}
				if strings.Contains(logs, "secret words") {
					t.Fatal("message text in the logs")
				}
				if n, _ := h.srv.Log().LastSeq(context.Background(), h.session); n != 0 {
					t.Fatalf("a refused action stored %d messages", n)
				}
			})
		}
	})
}

func TestChatModes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		t.Run("off_toggle: off at start, the technician turns it on", func(t *testing.T) {
			h := newHarness(t, db)
			h.sessions.setPerms(h.owner, org.Permissions{ChatToggle: true})
			cust := h.customer(0)
			tech := h.technician(h.owner, 0)
			if cust.hello.ChatEnabled || cust.hello.ChatMode != "off_toggle" {
				t.Fatalf("hello %+v", cust.hello)
			}
			if e := cust.errorFor(t, ClientFrame{Type: TypeChat, Text: "hello?"}); e.Code != "forbidden" {
				t.Fatalf("customer chat while off: %+v", e)
			}
			on := true
			tech.send(t, ClientFrame{Type: TypeChatToggle, ClientMsgID: "on", Enabled: &on})
			tech.expect(t, TypeAck, TypeMessage)
			if m := cust.expect(t, TypeMessage); m.Kind != KindChatToggle || !strings.Contains(string(m.Payload), `"enabled":true`) {
				t.Fatalf("customer got %+v", m)
			}
			if ack := cust.chat(t, "c1", "hello!"); ack.Seq != 2 {
				t.Fatalf("ack %+v", ack)
			}
		})
		t.Run("on_toggle: the technician turns it off", func(t *testing.T) {
			h := newHarness(t, db)
			cust := h.customer(0)
			tech := h.technician(h.owner, 0)
			off := false
			tech.send(t, ClientFrame{Type: TypeChatToggle, ClientMsgID: "off", Enabled: &off})
			tech.expect(t, TypeAck, TypeMessage)
			cust.expect(t, TypeMessage)
			if e := cust.errorFor(t, ClientFrame{Type: TypeChat, Text: "hello?"}); e.Code != "forbidden" {
				t.Fatalf("customer chat while off: %+v", e)
			}
			if e := tech.errorFor(t, ClientFrame{Type: TypeChat, Text: "hi"}); e.Code != "forbidden" || !strings.Contains(e.Error, "chat") {
				t.Fatalf("technician chat while off: %+v", e)
			}
			// Notes and technician-only chat are not customer chat.
			tech.send(t, ClientFrame{Type: TypeNote, ClientMsgID: "n", Text: "note"})
			tech.expect(t, TypeAck, TypeMessage)
		})
		t.Run("customer-only actions are refused", func(t *testing.T) {
			h := newHarness(t, db)
			cust := h.customer(0)
			for _, f := range []ClientFrame{
				{Type: TypeNote, Text: "x"}, {Type: TypeURL, URL: "https://example.com"}, {Type: TypeTool, Name: "reboot"},
				{Type: TypeInvite, TechnicianID: h.owner}, {Type: TypeChat, Text: "x", Audience: AudienceTechnicians},
			} {
				if e := cust.errorFor(t, f); e.Code != "forbidden" && e.Code != "validation_failed" {
					t.Fatalf("%s by the customer: %+v", f.Type, e)
				}
			}
		})
		t.Run("waiting session: no chat until picked up", func(t *testing.T) {
			h := newHarness(t, db)
			h.sessions.update(h.session, func(s *SessionInfo) { s.TechnicianID = 0; s.State = "Waiting" })
			cust := h.customer(0)
			if e := cust.errorFor(t, ClientFrame{Type: TypeChat, Text: "anyone?"}); e.Code != "chat_unavailable" {
				t.Fatalf("chat while waiting: %+v", e)
			}
			// Pick-up: core/sessions pushes the state; the relay reloads the session.
			h.sessions.update(h.session, func(s *SessionInfo) { s.TechnicianID = h.owner; s.State = "Active" })
			h.srv.Hub().PushState(h.session, "Active")
			if f := cust.expect(t, TypeState); f.State != "Active" {
				t.Fatalf("state %+v", f)
			}
			cust.chat(t, "c1", "finally")
		})
	})
}

func TestCollaboration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		helper := insertNode(t, db, "technician", "Helper")
		ctx := context.Background()
		cust := h.customer(0)
		owner := h.technician(h.owner, 0)

		// Not yet invited.
		if _, err := dialClient(h.wsURL(fmt.Sprintf("/api/v1/relay/sessions/%d", h.session)),
			http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", helper)}}); err == nil || !strings.Contains(err.Error(), "403") {
			t.Fatalf("uninvited: %v", err)
		}
		cust.chat(t, "c1", "before the helper")                                              // seq 1
		owner.send(t, ClientFrame{Type: TypeInvite, ClientMsgID: "i", TechnicianID: helper}) // seq 2
		if ack := owner.expect(t, TypeAck, TypeMessage); ack.Seq != 2 {
			t.Fatalf("invite ack %+v\n%s", ack, h.logs.String())
		}
		if e := owner.errorFor(t, ClientFrame{Type: TypeInvite, TechnicianID: helper}); e.Code != "already_invited" {
			t.Fatalf("second invite %+v", e)
		}

		col := h.technician(helper, 2) // joins: seq 3
		if col.hello.Role != "collaborator" {
			t.Fatalf("hello %+v", col.hello)
		}
		if m := col.expect(t, TypeMessage); m.Kind != KindCollab || !strings.Contains(string(m.Payload), `"joined"`) {
			t.Fatalf("collaborator got %+v", m)
		}
		// The customer sees who joined but not the invitation.
		if m := seqMessage(t, cust, 3); m.Kind != KindCollab {
			t.Fatalf("customer got %+v", m)
		}
		if e := col.errorFor(t, ClientFrame{Type: TypeInvite, TechnicianID: h.owner}); e.Code != "forbidden" {
			t.Fatalf("collaborator invites: %+v", e)
		}

		col.send(t, ClientFrame{Type: TypeChat, ClientMsgID: "tc", Text: "I know this one", Audience: AudienceTechnicians}) // seq 4
		if m := seqMessage(t, owner, 4); m.Audience != AudienceTechnicians || m.SenderID != helper {
			t.Fatalf("owner got %+v", m)
		}
		col.chat(t, "cc", "Hello, I am helping") // seq 5
		if m := cust.expect(t, TypeMessage); m.Seq != 5 {
			t.Fatalf("customer got %+v (technician-only chat leaked?)", m)
		}

		col.send(t, ClientFrame{Type: TypeLeave, ClientMsgID: "bye"}) // seq 6
		if code := col.closed(t); code != websocket.StatusNormalClosure {
			t.Fatalf("close code %d", code)
		}
		cust.chat(t, "c2", "after the helper") // seq 7

		logFor, err := h.srv.Collaboration().LogFor(ctx, h.session, helper)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, m := range logFor {
			seqs = append(seqs, m.Seq)
		}
		if fmt.Sprint(seqs) != "[3 4 5 6]" {
			t.Fatalf("collaboration log seqs %v, want [3 4 5 6]", seqs)
		}
		list, err := h.srv.Collaboration().List(ctx, h.session)
		if err != nil || len(list) != 1 || list[0].JoinedAt == nil || list[0].LeftAt == nil || list[0].InvitedBy != h.owner || list[0].Present() {
			t.Fatalf("collaborators %+v, %v", list, err)
		}
		// Gone means gone: coming back takes a new invitation.
		if _, err := dialClient(h.wsURL(fmt.Sprintf("/api/v1/relay/sessions/%d", h.session)),
			http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", helper)}}); err == nil {
			t.Fatal("a collaborator who left reconnected")
		}
		var types []string
		for _, e := range events(t, db, h.session) {
			types = append(types, e.Type)
		}
		if want := "message.chat message.collab message.collab message.chat message.chat message.collab message.chat"; strings.Join(types, " ") != want {
			t.Fatalf("events %v", types)
		}
	})
}

func fileChunk(offerSeq int64, data []byte) []byte {
	b := make([]byte, 9+len(data))
	b[0] = BinaryFile
	binary.BigEndian.PutUint64(b[1:9], uint64(offerSeq))
	copy(b[9:], data)
	return b
}

func TestFileOfferRecordsSHA256(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		content := []byte(strings.Repeat("driver bytes ", 10000))
		sum := sha256.Sum256(content)
		digest := hex.EncodeToString(sum[:])

		if e := tech.errorFor(t, ClientFrame{Type: TypeFileOffer, Name: "../etc/passwd", Size: 1, SHA256: "zz"}); e.Code != "validation_failed" {
			t.Fatalf("bad offer: %+v", e)
		}
		tech.send(t, ClientFrame{Type: TypeFileOffer, ClientMsgID: "f", Name: "driver.zip", Size: int64(len(content)), SHA256: strings.ToUpper(digest)})
		offer := tech.expect(t, TypeAck, TypeMessage)
		var recorded FileOffer
		m := cust.expect(t, TypeMessage)
		if err := json.Unmarshal(m.Payload, &recorded); err != nil || m.Kind != KindFileOffer || recorded.SHA256 != digest || recorded.Size != int64(len(content)) {
			t.Fatalf("offer %+v (%s)", m, m.Payload)
		}
		ev := events(t, db, h.session)
		if len(ev) != 1 || ev[0].Type != "message.file_offer" || !strings.Contains(ev[0].Payload, digest) {
			t.Fatalf("outbox %+v", ev)
		}

		// Chunks before the customer accepts are refused.
		tech.sendBinary(t, fileChunk(offer.Seq, content[:10]))
		if e := tech.expect(t, TypeError, TypeMessage); e.Code != "offer_not_accepted" {
			t.Fatalf("early chunk: %+v", e)
		}
		cust.send(t, ClientFrame{Type: TypeFileAccept, ClientMsgID: "a", OfferSeq: offer.Seq})
		cust.expect(t, TypeAck, TypeMessage)

		for off := 0; off < len(content); off += 32 << 10 {
			tech.sendBinary(t, fileChunk(offer.Seq, content[off:min(off+32<<10, len(content))]))
		}
		var received []byte
		for len(received) < len(content) {
			select {
			case b := <-cust.binary:
				received = append(received, b[9:]...)
			case <-time.After(wait):
				t.Fatal("file bytes not relayed")
			}
		}
		done := cust.expect(t, TypeMessage, TypeAck)
		for done.Kind != KindFileDone {
			done = cust.expect(t, TypeMessage, TypeAck)
		}
		var fd FileDone
		if err := json.Unmarshal(done.Payload, &fd); err != nil || !fd.Verified || fd.SHA256 != digest || fd.Size != int64(len(content)) {
			t.Fatalf("file_done %+v", done)
		}
		cust.ws.Close(websocket.StatusNormalClosure, "")
		tech.ws.Close(websocket.StatusNormalClosure, "")
		wantBytes := int64(len(content) + 9*((len(content)+(32<<10)-1)/(32<<10)))
		waitFor(t, func() bool { return h.sessions.bytes(h.session) == wantBytes })
	})
}

func TestBinaryRelayCountsBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		frame := append([]byte{BinaryScreen}, make([]byte, 64<<10)...)
		for range 10 {
			cust.sendBinary(t, frame)
		}
		for range 10 {
			select {
			case b := <-tech.binary:
				if len(b) != len(frame) {
					t.Fatalf("frame of %d bytes", len(b))
				}
			case <-time.After(wait):
				t.Fatal("screen frame not relayed")
			}
		}
		// A technician without share_screen cannot send screen frames.
		p := *org.DefaultPermissions()
		p.ShareScreen = false
		h.sessions.setPerms(h.owner, p)
		h.srv.Hub().PushState(h.session, "Active") // permissions are reloaded after a state change
		tech.expect(t, TypeState)
		tech.sendBinary(t, frame)
		if e := tech.expect(t, TypeError); e.Code != "forbidden" || !strings.Contains(e.Error, "share_screen") {
			t.Fatalf("error %+v", e)
		}
		cust.ws.Close(websocket.StatusNormalClosure, "")
		waitFor(t, func() bool { return h.sessions.bytes(h.session) == int64(10*len(frame)) })
		if n, _ := h.srv.Log().LastSeq(context.Background(), h.session); n != 0 {
			t.Fatal("binary frames were stored")
		}
	})
}

func TestCustomerDisconnectAndReplace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		first := h.customer(0)
		second := h.customer(0) // e.g. the applet reconnected before the old socket timed out
		if code := first.closed(t); code != CloseReplaced {
			t.Fatalf("replaced socket closed with %d", code)
		}
		if got := h.sessions.get(h.sessions.connected, h.session); got != 2 {
			t.Fatalf("connected %d times", got)
		}
		time.Sleep(50 * time.Millisecond)
		if got := h.sessions.get(h.sessions.disconnected, h.session); got != 0 {
			t.Fatalf("a replaced socket reported a disconnect")
		}
		second.ws.CloseNow()
		waitFor(t, func() bool { return h.sessions.get(h.sessions.disconnected, h.session) == 1 })
		if customer, _ := h.srv.Hub().Presence(h.session); customer {
			t.Fatal("customer still present")
		}
	})
}

func TestSessionEndClosesSockets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		ctx := context.Background()
		if _, err := h.srv.Log().AppendSystem(ctx, db, h.session, "Session closed by technician.", nil); err != nil {
			t.Fatal(err)
		}
		h.sessions.update(h.session, func(s *SessionInfo) { s.Live = false; s.State = "Closed" })
		h.srv.Hub().End(h.session)
		for _, c := range []*client{cust, tech} {
			if m := c.expect(t, TypeMessage); m.Body != "Session closed by technician." {
				t.Fatalf("last message %+v", m)
			}
			if code := c.closed(t); code != CloseEnded {
				t.Fatalf("close code %d", code)
			}
		}
		time.Sleep(50 * time.Millisecond)
		if got := h.sessions.get(h.sessions.disconnected, h.session); got != 0 {
			t.Fatal("an ended session reported a customer disconnect")
		}
	})
}

func TestConcurrentChatFromBothSides(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		cust := h.customer(0)
		tech := h.technician(h.owner, 0)
		var wg sync.WaitGroup
		for _, side := range []struct {
			c    *client
			name string
		}{{cust, "c"}, {tech, "t"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					b, _ := json.Marshal(ClientFrame{Type: TypeChat, ClientMsgID: fmt.Sprintf("%s-%d", side.name, i), Text: "msg"})
					if err := side.c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, c := range []*client{cust, tech} {
			acks := map[string]int64{}
			var seqs []int64
			for len(acks) < 50 || len(seqs) < 100 {
				f := c.next(t)
				switch f.Type {
				case TypeAck:
					acks[f.ClientMsgID] = f.Seq
				case TypeMessage:
					seqs = append(seqs, f.Seq)
				default:
					t.Fatalf("got %+v", f)
				}
			}
			for i, s := range seqs {
				if s != int64(i+1) {
					t.Fatalf("delivered seqs %v: not 1..100 in order", seqs)
				}
			}
		}
		log, err := h.srv.Log().ChatLog(context.Background(), h.session, TechnicianViewer(h.owner))
		if err != nil || len(log) != 100 || log[99].Seq != 100 {
			t.Fatalf("log of %d messages, %v", len(log), err)
		}
	})
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db, func(c *Config) { c.Limits.RatePerSecond, c.Limits.RateBurst, c.Limits.RateStrikes = 1, 3, 5 })
		cust := h.customer(0)
		for i := range 3 {
			cust.chat(t, fmt.Sprint(i), "hi")
		}
		if e := cust.errorFor(t, ClientFrame{Type: TypeChat, ClientMsgID: "3", Text: "hi"}); e.Code != "rate_limited" || e.Ref != "3" {
			t.Fatalf("over the limit: %+v", e)
		}
		h.clock.Advance(time.Second)
		cust.chat(t, "3", "hi")
		for range 5 {
			cust.send(t, ClientFrame{Type: TypePing})
		}
		if code := cust.closed(t); code != CloseRateLimited {
			t.Fatalf("close code %d", code)
		}
	})
}

// stalledPeer sets up a session whose customer sends screen frames to two
// technician sockets: the owner's, which reads, and an invited helper's, a
// raw socket nobody reads from. It sends frames of 256 KiB, waits until the
// reading one got them all, and then until the hub dropped the other.
func stalledPeer(t *testing.T, frames int, limits func(*Limits)) (h *harness, cust, fast *client) {
	t.Helper()
	db := storetest.SQLite(t)
	h = newHarness(t, db, func(c *Config) { limits(&c.Limits) })
	helper := insertNode(t, db, "technician", "Helper")
	if _, err := h.srv.Collaboration().Invite(context.Background(), h.session, h.owner, helper); err != nil {
		t.Fatal(err)
	}
	cust = h.customer(0)
	fast = h.technician(h.owner, 0)
	ctx := context.Background()
	stalled, _, err := websocket.Dial(ctx, h.wsURL(fmt.Sprintf("/api/v1/relay/sessions/%d?resume_after=0", h.session)),
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", helper)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.CloseNow() })
	waitFor(t, func() bool { _, techs := h.srv.Hub().Presence(h.session); return len(techs) == 2 })

	frame := append([]byte{BinaryScreen}, make([]byte, 256<<10)...)
	go func() {
		for range frames {
			if cust.ws.Write(ctx, websocket.MessageBinary, frame) != nil {
				return
			}
		}
	}()
	for i := range frames {
		select {
		case <-fast.binary:
		case <-time.After(wait):
			t.Fatalf("the reading technician stalled after %d frames", i)
		}
	}
	waitFor(t, func() bool { _, techs := h.srv.Hub().Presence(h.session); return len(techs) == 1 })
	return h, cust, fast
}

// TestSlowConsumerIsDroppedNotWaitedFor: a peer whose queue stays full for
// SlowConsumerTimeout is dropped; the others never wait for it. 200
// frames are 50 MiB, far more than the socket buffers hold.
func TestSlowConsumerIsDroppedNotWaitedFor(t *testing.T) {
	stalledPeer(t, 200, func(l *Limits) {
		l.SlowConsumerTimeout = 100 * time.Millisecond
		l.BinaryQueue = 4
	})
}

// TestStalledWriteIsDropped: a peer that stops reading while the hub is
// writing to it (its queue never fills: only the socket does) is dropped
// once one write has waited WriteTimeout, and the others go on. 100
// frames are more than the socket buffers hold and fewer than the queue.
func TestStalledWriteIsDropped(t *testing.T) {
	_, cust, fast := stalledPeer(t, 100, func(l *Limits) {
		l.WriteTimeout = 200 * time.Millisecond
		l.SlowConsumerTimeout = time.Hour
		l.BinaryQueue = 256
	})
	// The reading technician's socket is still open and serves chat.
	cust.chat(t, "c", "still there?")
	for {
		if m := fast.expect(t, TypeMessage); m.Body == "still there?" {
			break
		}
	}
}

// TestDropRemoteSide: frames another node relayed for this node's
// technicians were lost on the way (core/cluster's bound on what waits);
// the technicians' sockets are closed with 4003 to resume, the customer's
// stays and goes on chatting.
func TestDropRemoteSide(t *testing.T) {
	h := newHarness(t, storetest.SQLite(t))
	cust := h.customer(0)
	tech := h.technician(h.owner, 0)
	h.srv.DropRemoteSide(h.session, SenderTechnician)
	if code := tech.closed(t); code != CloseTooSlow {
		t.Fatalf("technician's socket closed with %d, want %d", code, CloseTooSlow)
	}
	cust.chat(t, "c", "still there?")
	again := h.technician(h.owner, 0)
	if m := again.expect(t, TypeMessage); m.Body != "still there?" {
		t.Fatalf("after resuming: %+v", m)
	}
}

func TestTransferredAwayTechnicianIsClosed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		other := insertNode(t, db, "technician", "Other")
		cust := h.customer(0)
		old := h.technician(h.owner, 0)
		// core/sessions transfers the session, then pushes the state.
		h.sessions.update(h.session, func(s *SessionInfo) { s.TechnicianID = other })
		h.srv.Hub().PushState(h.session, "Transferring")
		if code := old.closed(t); code != CloseNotAllowed {
			t.Fatalf("old owner closed with %d", code)
		}
		newOwner := h.technician(other, 0)
		if newOwner.hello.Role != "owner" {
			t.Fatalf("hello %+v", newOwner.hello)
		}
		cust.chat(t, "c", "hello new technician")
		if m := newOwner.expect(t, TypeMessage); m.Body != "hello new technician" {
			t.Fatalf("got %+v", m)
		}
	})
}

// TestStoreTimeIsMeasured: every stored message's time from its frame's
// arrival is observed in tether_relay_message_store_seconds, by kind.
func TestStoreTimeIsMeasured(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, storetest.SQLite(t), func(c *Config) { c.Registry = reg })
	cust := h.customer(0)
	tech := h.technician(h.owner, 0)
	cust.chat(t, "c1", "hello")
	cust.chat(t, "c2", "anyone?")
	tech.send(t, ClientFrame{Type: TypeNote, ClientMsgID: "n1", Text: "printer model 4000"})
	tech.ack(t, "n1")
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "tether_relay_message_store_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				got[l.GetValue()] = m.GetHistogram().GetSampleCount()
			}
			if s := m.GetHistogram().GetSampleSum(); s <= 0 || s > 10 {
				t.Errorf("sum of store times %v s", s)
			}
		}
	}
	if got["chat"] != 2 || got["note"] != 1 {
		t.Fatalf("store times observed by kind: %v, want chat 2, note 1", got)
	}
}

// TestChatRightAfterPickUpIsServed: the customer chats the moment the
// "Active" state reaches it, while the session's reload is slow. Its
// socket's writer may be reloading the session already; the reader then
// waits for that reload instead of acting on the view from before the
// pick-up (which refused the chat as "chat_unavailable").
func TestChatRightAfterPickUpIsServed(t *testing.T) {
	for round := range 6 {
		h := newHarness(t, storetest.SQLite(t))
		h.sessions.update(h.session, func(s *SessionInfo) { s.TechnicianID = 0 })
		cust := h.customer(0)
		h.sessions.mu.Lock()
		h.sessions.reloadDelay = 50 * time.Millisecond
		h.sessions.mu.Unlock()
		h.sessions.update(h.session, func(s *SessionInfo) { s.TechnicianID = h.owner })
		h.srv.Hub().PushState(h.session, "Active")
		cust.expect(t, TypeState)
		id := fmt.Sprintf("c%d", round)
		cust.send(t, ClientFrame{Type: TypeChat, ClientMsgID: id, Text: "hello!"})
		for {
			f := cust.next(t)
			if f.Type == TypeError {
				t.Fatalf("round %d: chat right after the pick-up refused: %+v", round, f)
			}
			if f.Type == TypeAck && f.ClientMsgID == id {
				break
			}
		}
	}
}

// TestApplyKeepsRemoteText: another hub node stored a chat message whose
// text the session keeps out of the log (P2U-3) and forwarded it. A socket
// that connects here later reads the message from the log, where its body
// is empty, and still gets the text from the forwarded message.
func TestApplyKeepsRemoteText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		h := newHarness(t, db)
		at := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
		payload := `{"length":11,"text_kept":false,"text_ref":"r1"}`
		if _, err := db.NewRaw(`INSERT INTO session_messages (session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at)
VALUES (?, 1, 'chat', 'customer', 0, 'all', '', ?, ?)`, h.session, payload, at).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		h.srv.Apply(Wake{Kind: WakeNotify, SessionID: h.session, Message: &Message{SessionID: h.session, Seq: 1, Kind: KindChat,
			SenderKind: SenderCustomer, Audience: AudienceAll, Body: "secret text", Payload: json.RawMessage(payload), CreatedAt: at}})
		tech := h.technician(h.owner, 0)
		if m := tech.expect(t, TypeMessage); m.Seq != 1 || m.Body != "secret text" {
			t.Fatalf("the forwarded text read from the log: %+v", m)
		}
	})
}
