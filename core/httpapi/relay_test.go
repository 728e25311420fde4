package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/uptrace/bun"

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
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"}))
		_, tech := e.technician(m, g, "tina@example.com")
		var created struct {
			PIN     string `json:"pin"`
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		e.do("POST", "/api/v1/sessions", tech, map[string]any{}).json(t, &created)
		var joined struct {
			Secret string `json:"secret"`
		}
		e.do("POST", "/api/v1/customer/join", "", map[string]any{"pin": created.PIN}).json(t, &joined)
		id := itoa(created.Session.ID)
		if r := e.do("POST", "/api/v1/sessions/"+id+"/pickup", tech, nil); r.Status != 200 {
			t.Fatalf("pickup: %d %s", r.Status, r.Body)
		}

		cust := e.dial("/api/v1/relay/customer?resume_after=0", joined.Secret)
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
