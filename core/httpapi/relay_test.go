package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func (e *env) dial(path, token string) *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + path
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		e.t.Fatalf("dial %s: %v (%d)", path, err, status)
	}
	e.t.Cleanup(func() { c.CloseNow() })
	return &wsClient{t: e.t, conn: c}
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, w.conn, v); err != nil {
		w.t.Fatal(err)
	}
}

// until reads frames until one satisfies ok.
func (w *wsClient) until(what string, ok func(map[string]any) bool) map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		var f map[string]any
		if err := wsjson.Read(ctx, w.conn, &f); err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok(f) {
			return f
		}
	}
}

func message(kind, body string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		return f["type"] == "message" && f["kind"] == kind && (body == "" || strings.Contains(f["body"].(string), body))
	}
}

func TestRelayThroughTheHub(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m, g, tech := e.groupWithTechnician("tina@example.com")
		sid, secret := e.activePrivate(tech)
		id := itoa(sid)

		cust := e.dial("/api/v1/relay/customer?resume_after=0", secret)
		tc := e.dial("/api/v1/relay/sessions/"+id+"?resume_after=0", tech)
		// The log already holds the system messages of the transitions.
		cust.until("connected system message", message("system", "Connected to"))
		tc.until("connected system message", message("system", "Connected to"))

		cust.send(map[string]any{"type": "chat", "text": "My printer is on fire", "client_msg_id": "c-1"})
		ack := cust.until("ack", func(f map[string]any) bool { return f["type"] == "ack" })
		if ack["client_msg_id"] != "c-1" || ack["seq"].(float64) <= 0 {
			t.Fatalf("ack: %v", ack)
		}
		tc.until("customer chat", message("chat", "printer is on fire"))
		tc.send(map[string]any{"type": "note", "text": "check the fuser", "client_msg_id": "t-1"})
		tc.send(map[string]any{"type": "chat", "text": "Unplug it, please", "client_msg_id": "t-2"})
		got := cust.until("technician chat", func(f map[string]any) bool {
			if f["type"] == "message" && f["kind"] == "note" {
				t.Fatalf("the customer received a technician note: %v", f)
			}
			return f["type"] == "message" && f["kind"] == "chat" && f["sender_kind"] == "technician"
		})
		if got["body"] != "Unplug it, please" {
			t.Fatalf("technician chat: %v", got)
		}
		// Putting the session on hold reaches both sockets as a state push.
		if r := e.do("POST", "/api/v1/sessions/"+id+"/hold", tech, nil); r.Status != 200 {
			t.Fatalf("hold: %d %s", r.Status, r.Body)
		}
		cust.until("state push", func(f map[string]any) bool {
			return f["type"] == "state" && strings.Contains(strings.ToLower(f["state"].(string)), "hold")
		})

		// Every message has its outbox event.
		var evs struct {
			Events []struct {
				Type string `json:"type"`
			} `json:"events"`
		}
		e.do("GET", "/api/v1/sessions/"+id+"/events", tech, nil).json(t, &evs)
		types := map[string]int{}
		for _, ev := range evs.Events {
			types[ev.Type]++
		}
		if types["message.chat"] != 2 || types["message.note"] != 1 {
			b, _ := json.Marshal(evs)
			t.Fatalf("outbox: %s", b)
		}
		// The compatibility API's getNote returns the technician's notes.
		code := strings.TrimPrefix(e.compat(http.DefaultClient, "GET", "requestAuthCode", url.Values{"email": {"tina@example.com"}, "pwd": {"Tech-Pass-100"}}), "OK AUTHCODE:")
		if got := e.compat(http.DefaultClient, "GET", "getNote", url.Values{"authcode": {code}, "session": {id}}); got != "OK NOTE:check the fuser" {
			t.Fatalf("getNote: %q", got)
		}
		// Another technician may not connect to the session.
		_, other := e.technician(m, g, "tom@example.com")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/api/v1/relay/sessions/"+id,
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + other}}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("a stranger connected: %v %v", err, resp)
		}
	})
}

// untilBinary reads frames until a binary one.
func (w *wsClient) untilBinary(what string) []byte {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		typ, data, err := w.conn.Read(ctx)
		if err != nil {
			w.t.Fatalf("waiting for %s: %v", what, err)
		}
		if typ == websocket.MessageBinary {
			return data
		}
	}
}

// TestRelayFramesAreActivity: what a technician does in the relay is their
// activity, so chatting for half an hour keeps them online past the
// group's away and sign-out thresholds (SESS-16); and a screen stream is an
// action in the session, so a silent session being watched does not time
// out idle (SESS-8).
func TestRelayFramesAreActivity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		e := newEnvClock(t, db, clk.Now)
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"}))
		for section, value := range map[string]any{
			"presence": map[string]any{"max_active_sessions": 5, "away_after_idle_minutes": 10, "sign_out_after_idle_minutes": 30},
			"timeouts": map[string]any{"code_validity_minutes": 60, "connecting_minutes": 5, "waiting_minutes": 0, "idle_minutes": 15},
		} {
			if r := e.do("PUT", "/api/v1/units/"+g+"/settings/"+section, m, map[string]any{"value": value}); r.Status != 200 {
				t.Fatalf("%s: %d %s", section, r.Status, r.Body)
			}
		}
		_, tech := e.technician(m, g, "tina@example.com")
		if r := e.do("PUT", "/api/v1/me/status", tech, map[string]any{"status": "online"}); r.Status >= 300 {
			t.Fatalf("status: %d %s", r.Status, r.Body)
		}
		sid, secret := e.activePrivate(tech)
		id := itoa(sid)
		cust := e.dial("/api/v1/relay/customer?resume_after=0", secret)
		tc := e.dial("/api/v1/relay/sessions/"+id+"?resume_after=0", tech)
		cust.until("connected system message", message("system", "Connected to"))
		tc.until("connected system message", message("system", "Connected to"))
		ack := func(w *wsClient, id string) {
			t.Helper()
			w.send(map[string]any{"type": "chat", "text": "still here", "client_msg_id": id})
			w.until("ack of "+id, func(f map[string]any) bool { return f["type"] == "ack" && f["client_msg_id"] == id })
		}
		status := func() string {
			t.Helper()
			var s struct {
				Status string `json:"status"`
			}
			e.do("GET", "/api/v1/me/status", tech, nil).json(t, &s)
			return s.Status
		}

		// Half an hour of chat, a message every five minutes. The relay
		// records activity after the ack, so one more frame after the last
		// (read in order by the same socket) makes sure it is written.
		for i := range 6 {
			clk.Advance(5 * time.Minute)
			ack(tc, fmt.Sprint("t-", i))
		}
		ack(tc, "t-sync")
		if got := status(); got != "online" {
			t.Fatalf("after 30 minutes of chat the technician is %q, want online", got)
		}

		// Then only the customer's screen, ten minutes after the last word:
		// the session's idle timeout moves with it.
		idleDue := func() time.Time {
			t.Helper()
			due, err := e.hub.Timers.Due(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, tm := range due {
				if tm.SessionID == sid && tm.Kind == sessions.TimerTimeout {
					return tm.DueAt
				}
			}
			t.Fatalf("session %s has no idle timer: %v", id, due)
			return time.Time{}
		}
		clk.Advance(10 * time.Minute)
		frame := []byte{relay.BinaryScreen, 1, 2, 3}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cust.conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
			t.Fatal(err)
		}
		tc.untilBinary("screen frame")
		want := clk.Now().Add(15 * time.Minute)
		for deadline := time.Now().Add(5 * time.Second); !idleDue().Equal(want); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("idle timeout due %s after a screen frame at %s, want %s", idleDue(), clk.Now(), want)
			}
		}
	})
}

// groupWithTechnician signs the master in and adds a technician group "G"
// with one technician: the master's token, the group's id and the
// technician's token.
func (e *env) groupWithTechnician(email string) (master, group, tech string) {
	e.t.Helper()
	master = e.master()
	group = itoa(e.create(master, "/api/v1/tech-groups", map[string]any{"name": "G"}))
	_, tech = e.technician(master, group, email)
	return master, group, tech
}

// activePrivate opens a private session as tech, joins it as the customer
// and picks it up: the session's id and the customer's secret.
func (e *env) activePrivate(tech string) (id int64, secret string) {
	e.t.Helper()
	var created struct {
		PIN     string `json:"pin"`
		Session struct {
			ID int64 `json:"id"`
		} `json:"session"`
	}
	e.do("POST", "/api/v1/sessions", tech, map[string]any{}).json(e.t, &created)
	var joined struct {
		Secret string `json:"secret"`
	}
	e.do("POST", "/api/v1/customer/join", "", map[string]any{"pin": created.PIN}).json(e.t, &joined)
	if r := e.do("POST", "/api/v1/sessions/"+itoa(created.Session.ID)+"/pickup", tech, nil); r.Status != 200 {
		e.t.Fatalf("pickup: %d %s", r.Status, r.Body)
	}
	return created.Session.ID, joined.Secret
}

// closedWith reads until the hub closes the socket, which must be with code.
func (w *wsClient) closedWith(what string, code websocket.StatusCode) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		var f map[string]any
		err := wsjson.Read(ctx, w.conn, &f)
		if err == nil {
			continue
		}
		if st := websocket.CloseStatus(err); st != code {
			w.t.Fatalf("%s: %v (close status %d), want closed with %d", what, err, st, code)
		}
		return
	}
}
