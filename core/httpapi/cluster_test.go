package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/cluster"
	"github.com/tetherhq/tether/core/cluster/clustertest"
	"github.com/tetherhq/tether/core/hub"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/store/storetest"
)

// twoNodes are two hubs on db joined over the NATS server at url.
func twoNodes(t *testing.T, db *bun.DB, url string) (a, b *env) {
	t.Helper()
	subject := clustertest.Subject(t)
	node := func(name string) *env {
		return newEnvWith(t, db, func(c *hub.Config) {
			c.Cluster = &cluster.Config{URL: url, Subject: subject, Name: name}
		})
	}
	return node("a"), node("b")
}

// activeOnTwoNodes is twoNodes with an active private session of a new
// technician of its own (tech is their token), opened on a.
func activeOnTwoNodes(t *testing.T, db *bun.DB, url, email string) (a, b *env, tech string, sid int64, secret string) {
	t.Helper()
	a, b = twoNodes(t, db, url)
	_, _, tech = a.groupWithTechnician(email)
	sid, secret = a.activePrivate(tech)
	return a, b, tech, sid, secret
}

// TestTwoNodesOverNATS: two hub nodes on one database, joined over a real
// NATS server. The customer is on one node, the technician (relay socket
// and live queue) on the other, as a load balancer may place them: the
// technician's queue shows the customer's new session, chat goes both
// ways (text kept out of the database included), a hold reaches the
// customer as a state push, and closing the session ends the customer's
// socket.
func TestTwoNodesOverNATS(t *testing.T) {
	url := clustertest.URL(t)
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		a, b := twoNodes(t, db, url)
		m, g, tech := a.groupWithTechnician("nia@example.com")
		ch := a.firstChannel(m)
		a.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)

		// The group keeps chat text out of the database (P2U-3): it lives
		// in the memory of the node that stored it, and the other node's
		// sockets get it with the wake-up.
		if r := a.do("PUT", "/api/v1/units/"+g+"/settings/chat_storage", m, map[string]any{"value": map[string]any{"keep_chat_text": false}}); r.Status != 200 {
			t.Fatalf("chat_storage: %d %s", r.Status, r.Body)
		}

		live := b.dial("/api/v1/queue/live", tech)
		live.until("the empty queue", func(f map[string]any) bool { return f["type"] == "queue" && len(f["sessions"].([]any)) == 0 })
		var opened struct {
			Secret  string `json:"secret"`
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		a.do("POST", "/api/v1/customer/channels/"+ch+"/sessions", "", map[string]any{}).json(t, &opened)
		id := itoa(opened.Session.ID)
		live.until("the session opened on the other node", func(f map[string]any) bool {
			s, _ := f["sessions"].([]any)
			return f["type"] == "queue" && len(s) == 1 && s[0].(map[string]any)["id"] == float64(opened.Session.ID)
		})

		cust := a.dial("/api/v1/relay/customer?resume_after=0", opened.Secret)
		cust.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })
		if r := b.do("POST", "/api/v1/sessions/"+id+"/pickup", tech, nil); r.Status != 200 {
			t.Fatalf("pickup: %d %s", r.Status, r.Body)
		}
		// The pick-up was made on b; the customer's socket on a hears of
		// it (the system message, then the state push).
		var connected, active bool
		cust.until("the pick-up", func(f map[string]any) bool {
			connected = connected || message("system", "Connected to")(f)
			active = active || f["type"] == "state" && f["state"] == "active"
			return connected && active
		})
		tc := b.dial("/api/v1/relay/sessions/"+id+"?resume_after=0", tech)
		tc.until("the connected system message", message("system", "Connected to"))

		for i, text := range []string{"My screen is blank", "Still blank"} {
			cust.send(map[string]any{"type": "chat", "text": text, "client_msg_id": itoa(int64(i))})
			f := tc.until("the customer's chat from the other node", message("chat", text))
			if p, _ := f["payload"].(map[string]any); p["text_kept"] != false {
				t.Fatalf("the text was kept: %v", f)
			}
			// The frame the other node sends is the one the storing node
			// sends its own sockets.
			if own := cust.until("the customer's own chat", message("chat", text)); !reflect.DeepEqual(own, f) {
				t.Fatalf("the other node sent\n%v\nthe storing node\n%v", f, own)
			}
		}
		tc.send(map[string]any{"type": "chat", "text": "Press any key", "client_msg_id": "t-1"})
		cust.until("the technician's chat from the other node", message("chat", "Press any key"))

		if r := b.do("POST", "/api/v1/sessions/"+id+"/hold", tech, nil); r.Status != 200 {
			t.Fatalf("hold: %d %s", r.Status, r.Body)
		}
		cust.until("the hold from the other node", func(f map[string]any) bool { return f["type"] == "state" && f["state"] == "on_hold" })
		if r := b.do("POST", "/api/v1/sessions/"+id+"/close", tech, nil); r.Status != 200 {
			t.Fatalf("close: %d %s", r.Status, r.Body)
		}
		cust.closedWith("the customer's socket on the other node", 4002)
	})
}

// TestCustomerMovingToAnotherNode: the customer's network drops and the
// reconnect lands on the other node while the old socket is still open
// there (it would time out only later). The old socket is closed as
// replaced and the session stays Active. And when the other node records a
// drop late anyway, the node the customer is connected to puts the
// session back to Active.
func TestCustomerMovingToAnotherNode(t *testing.T) {
	url := clustertest.URL(t)
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		a, b, tech, sid, secret := activeOnTwoNodes(t, db, url, "ola@example.com")
		id := itoa(sid)
		state := func() string {
			var s struct {
				State string `json:"state"`
			}
			a.do("GET", "/api/v1/sessions/"+id, tech, nil).json(t, &s)
			return s.State
		}
		awaitState := func(want string) {
			t.Helper()
			for deadline := time.Now().Add(5 * time.Second); state() != want; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("session is %s, want %s", state(), want)
				}
			}
		}

		old := a.dial("/api/v1/relay/customer?resume_after=0", secret)
		old.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })
		moved := b.dial("/api/v1/relay/customer?resume_after=0", secret)
		moved.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })
		old.closedWith("the old socket on the first node", 4001)
		// Its close is not a drop: the customer is connected on b.
		time.Sleep(200 * time.Millisecond)
		if got := state(); got != "active" {
			t.Fatalf("after the customer moved nodes the session is %s, want active", got)
		}

		// A drop recorded late by a (say, a socket whose ping timed out
		// just after the customer came back through b) is undone by b.
		if err := a.hub.Sessions.CustomerDisconnected(context.Background(), sid); err != nil {
			t.Fatal(err)
		}
		awaitState("active")
		moved.send(map[string]any{"type": "chat", "text": "back again", "client_msg_id": "c-1"})
		moved.until("ack", func(f map[string]any) bool { return f["type"] == "ack" && f["client_msg_id"] == "c-1" })
	})
}

// rawFrames reads w's frames until done says so: the binary ones and the
// JSON ones, in the order they came.
func (w *wsClient) rawFrames(what string, done func(bin [][]byte, msgs []map[string]any) bool) ([][]byte, []map[string]any) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var bin [][]byte
	var msgs []map[string]any
	for !done(bin, msgs) {
		typ, data, err := w.conn.Read(ctx)
		if err != nil {
			w.t.Fatalf("waiting for %s: %v (got %d binary frames, %d others)", what, err, len(bin), len(msgs))
		}
		if typ == websocket.MessageBinary {
			bin = append(bin, data)
			continue
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			w.t.Fatal(err)
		}
		msgs = append(msgs, f)
	}
	return bin, msgs
}

// TestBinaryFramesCrossNodes: screen frames and a file go between a
// customer on one node and a technician on the other, whole and in order;
// the file's hash is verified; the bytes are counted once; and a file chunk
// for a side connected to no node is refused as not delivered.
func TestBinaryFramesCrossNodes(t *testing.T) {
	url := clustertest.URL(t)
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		a, b, tech, sid, secret := activeOnTwoNodes(t, db, url, "una@example.com")
		id := itoa(sid)
		cust := a.dial("/api/v1/relay/customer?resume_after=0", secret)
		cust.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })
		tc := b.dial("/api/v1/relay/sessions/"+id+"?resume_after=0", tech)
		tc.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })
		cust.conn.SetReadLimit(1 << 20)
		tc.conn.SetReadLimit(1 << 20)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var total int64

		// Screen frames, both ways.
		var frames [][]byte
		for i := range 5 {
			f := append([]byte{relay.BinaryScreen}, bytes.Repeat([]byte{byte(i)}, 64<<10)...)
			frames = append(frames, f)
			if err := cust.conn.Write(ctx, websocket.MessageBinary, f); err != nil {
				t.Fatal(err)
			}
			total += int64(len(f))
		}
		got, _ := tc.rawFrames("the customer's screen", func(bin [][]byte, _ []map[string]any) bool { return len(bin) == len(frames) })
		for i := range frames {
			if !bytes.Equal(got[i], frames[i]) {
				t.Fatalf("screen frame %d arrived as %d bytes starting %v", i, len(got[i]), got[i][:2])
			}
		}
		back := append([]byte{relay.BinaryScreen}, []byte("technician's screen")...)
		if err := tc.conn.Write(ctx, websocket.MessageBinary, back); err != nil {
			t.Fatal(err)
		}
		total += int64(len(back))
		if got, _ := cust.rawFrames("the technician's screen", func(bin [][]byte, _ []map[string]any) bool { return len(bin) == 1 }); !bytes.Equal(got[0], back) {
			t.Fatalf("the technician's screen arrived as %q", got[0])
		}

		// A file from the technician on b to the customer on a.
		content := bytes.Repeat([]byte("driver bytes "), 20000)
		sum := sha256.Sum256(content)
		offer := func() int64 {
			t.Helper()
			tc.send(map[string]any{"type": "file_offer", "client_msg_id": "f" + itoa(total), "name": "driver.zip", "size": len(content), "sha256": hex.EncodeToString(sum[:])})
			ack := tc.until("the offer's ack", func(f map[string]any) bool { return f["type"] == "ack" })
			seq := int64(ack["seq"].(float64))
			cust.send(map[string]any{"type": "file_accept", "client_msg_id": "a" + itoa(seq), "offer_seq": seq})
			cust.until("the accept's ack", func(f map[string]any) bool { return f["type"] == "ack" && f["client_msg_id"] == "a"+itoa(seq) })
			return seq
		}
		chunk := func(seq int64, data []byte) []byte {
			c := []byte{relay.BinaryFile, 0, 0, 0, 0, 0, 0, 0, 0}
			binary.BigEndian.PutUint64(c[1:9], uint64(seq))
			return append(c, data...)
		}
		seq := offer()
		for off := 0; off < len(content); off += 32 << 10 {
			c := chunk(seq, content[off:min(off+32<<10, len(content))])
			if err := tc.conn.Write(ctx, websocket.MessageBinary, c); err != nil {
				t.Fatal(err)
			}
			total += int64(len(c))
		}
		var received []byte
		_, msgs := cust.rawFrames("the file and its file_done", func(bin [][]byte, msgs []map[string]any) bool {
			received = received[:0]
			for _, c := range bin {
				received = append(received, c[9:]...)
			}
			return len(msgs) > 0 && msgs[len(msgs)-1]["kind"] == "file_done"
		})
		done := msgs[len(msgs)-1]["payload"].(map[string]any)
		if !bytes.Equal(received, content) || done["verified"] != true || done["sha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("file: %d bytes of %d, file_done %v", len(received), len(content), done)
		}

		// The customer leaves: a chunk for them goes nowhere, and says so.
		seq = offer()
		cust.conn.Close(websocket.StatusNormalClosure, "")
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var s struct {
				State string `json:"state"`
			}
			b.do("GET", "/api/v1/sessions/"+id, tech, nil).json(t, &s)
			if s.State == "reconnecting" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the customer's drop was not recorded: %s", s.State)
			}
		}
		if err := tc.conn.Write(ctx, websocket.MessageBinary, chunk(seq, content[:100])); err != nil {
			t.Fatal(err)
		}
		tc.until("peer_not_connected", func(f map[string]any) bool { return f["type"] == "error" && f["code"] == "peer_not_connected" })

		// Every byte delivered is counted once, by the node that delivered it.
		tc.conn.Close(websocket.StatusNormalClosure, "")
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var s struct {
				Transmitted int64 `json:"transmitted_bytes"`
			}
			a.do("GET", "/api/v1/sessions/"+id, tech, nil).json(t, &s)
			if s.Transmitted == total {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("transmitted %d bytes, want %d", s.Transmitted, total)
			}
		}
	})
}
