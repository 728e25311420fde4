package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/tetherhq/tether/core/cluster/clustertest"
)

// TestTwoHubProcesses runs two tether serve processes on one PostgreSQL
// database, joined through a real NATS server (--nats-url in the
// environment, as production would), the way a load balancer may split a
// session: the customer joins and chats through one, the technician
// creates, picks up, chats and closes through the other. Chat crosses both
// ways, so does a screen frame, and the close ends the customer's socket on
// the other process.
func TestTwoHubProcesses(t *testing.T) {
	url, subject := clustertest.URL(t), clustertest.Subject(t)
	nats := []string{"TETHER_NATS_URL=" + url, "TETHER_NATS_SUBJECT=" + subject}
	a := StartHub(t, Options{Postgres: true, Env: nats})
	b := StartHub(t, Options{Env: append([]string{"TETHER_DATABASE_URL=" + a.DatabaseURL}, nats...)})
	for _, h := range []*Hub{a, b} {
		if m := h.Messages("joined the other hub nodes over NATS"); len(m) != 1 || m[0]["subject"] != subject {
			t.Fatalf("%s did not log joining the others: %v", h.BaseURL, m)
		}
		if _, body := h.Get("/metrics"); !strings.Contains(body, "tether_cluster_connected 1") {
			t.Fatalf("%s /metrics does not show the NATS connection", h.BaseURL)
		}
	}

	master, _ := signIn(t, a, DefaultAdminEmail, DefaultAdminPassword)
	_, _, techOnA := staff(t, a, master, "tom@example.com")
	tech := &api{t: t, h: b, token: techOnA.token}
	created := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
	sid := id(created["session"].(map[string]any))
	joined := (&api{t: t, h: a}).must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"]})
	tech.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)

	cust := dialRelay(t, a, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
	techWS := dialRelay(t, b, "/api/v1/relay/sessions/"+sid+"?resume_after=0", tech.token)
	cust.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil)
	techWS.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil)
	for i := range 3 {
		text := "customer line " + strconv.Itoa(i)
		cust.send(map[string]any{"type": "chat", "text": text, "client_msg_id": "c" + strconv.Itoa(i)})
		techWS.await(text, msgWith("chat", text), nil)
		text = "technician line " + strconv.Itoa(i)
		techWS.send(map[string]any{"type": "chat", "text": text, "client_msg_id": "t" + strconv.Itoa(i)})
		cust.await(text, msgWith("chat", text), nil)
	}
	// A screen frame crosses too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	screen := append([]byte{0x01}, []byte("the customer's screen")...)
	if err := cust.conn.Write(ctx, websocket.MessageBinary, screen); err != nil {
		t.Fatal(err)
	}
	for {
		typ, data, err := techWS.conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the screen frame from the other process: %v", err)
		}
		if typ == websocket.MessageBinary {
			if string(data) != string(screen) {
				t.Fatalf("screen frame arrived as %q", data)
			}
			break
		}
	}
	tech.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
	for {
		var f map[string]any
		err := wsjson.Read(ctx, cust.conn, &f)
		if err == nil {
			continue
		}
		if st := websocket.CloseStatus(err); st != 4002 {
			t.Fatalf("the customer's socket on the other process: %v (close status %d), want closed with 4002", err, st)
		}
		break
	}
}
