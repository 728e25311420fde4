package e2e

import (
	"testing"
	"time"
)

// staff is a group with one signed-in technician.
func staff(t testing.TB, h *Hub, master *api, email string) (group map[string]any, techID string, tech *api) {
	t.Helper()
	group = master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Support " + email})
	m := master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group["id"],
		"name": email, "email": email, "password": "First-Pass-1"})
	tmp, _ := signIn(t, h, email, "First-Pass-1")
	tmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "First-Pass-1", "new_password": "Second-Pass-2"})
	tech, _ = signIn(t, h, email, "Second-Pass-2")
	return group, id(m), tech
}

func customer(t *testing.T, h *Hub, secret string) *api { return &api{t: t, h: h, token: secret} }

// TestSessionsSurviveSIGKILL kills the hub with sessions pending, waiting
// and active; after the restart every session is as it was, the customer's
// secret still works, and a code-validity timer armed before the crash
// still fires on time.
func TestSessionsSurviveSIGKILL(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, _, tech := staff(t, h, master, "kim@example.com")
			master.must(200, "PUT", "/api/v1/units/"+id(group)+"/settings/timeouts", map[string]any{
				"value": map[string]any{"code_validity_minutes": 1, "connecting_minutes": 10}})
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			ch := id(chans[0].(map[string]any))
			master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+id(group), nil)

			pending := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
			pendingID := id(pending["session"].(map[string]any))
			armedAt := time.Now()

			active := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
			anon := &api{t: t, h: h}
			joined := anon.must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": active["pin"]})
			activeID := id(active["session"].(map[string]any))
			tech.must(200, "POST", "/api/v1/sessions/"+activeID+"/pickup", nil)

			// Chat in flight: both sides talk over the relay right up to the crash.
			custWS := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
			techWS := dialRelay(t, h, "/api/v1/relay/sessions/"+activeID+"?resume_after=0", tech.token)
			custWS.send(map[string]any{"type": "chat", "text": "before the crash", "client_msg_id": "c-1"})
			techWS.await("the customer's chat", msgWith("chat", "before the crash"), nil)
			techWS.send(map[string]any{"type": "chat", "text": "still there?", "client_msg_id": "t-1"})
			techWS.await("ack", func(f map[string]any) bool { return f["type"] == "ack" && f["client_msg_id"] == "t-1" }, nil)

			waiting := anon.must(201, "POST", "/api/v1/customer/channels/"+ch+"/sessions", map[string]any{})
			waitingSecret := waiting["secret"].(string)

			before := map[string]map[string]any{}
			for _, sid := range []string{pendingID, activeID} {
				before[sid] = tech.must(200, "GET", "/api/v1/sessions/"+sid, nil)
			}

			h.Crash()

			for sid, b := range before {
				a := tech.must(200, "GET", "/api/v1/sessions/"+sid, nil)
				if a["state"] != b["state"] || a["technician_id"] != b["technician_id"] {
					t.Fatalf("session %s changed across the crash: %v -> %v", sid, b["state"], a["state"])
				}
			}
			if st := customer(t, h, waitingSecret).must(200, "GET", "/api/v1/customer/session", nil); st["state"] != "waiting" || st["position"] != float64(1) {
				t.Fatalf("waiting customer after the crash: %v", st)
			}
			// The customer resumes from the start: every message is there once, and
			// a message re-sent with the same client id is not stored twice.
			again := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
			again.send(map[string]any{"type": "chat", "text": "before the crash", "client_msg_id": "c-1"})
			seen := map[string]int{}
			again.await("the technician's last message", func(f map[string]any) bool {
				if f["type"] == "message" && f["kind"] == "chat" {
					seen[f["body"].(string)]++
				}
				return seen["still there?"] == 1
			}, nil)
			again.send(map[string]any{"type": "chat", "text": "after the crash", "client_msg_id": "c-2"})
			again.await("ack after the crash", func(f map[string]any) bool {
				if f["type"] == "message" && f["kind"] == "chat" {
					seen[f["body"].(string)]++
				}
				return f["type"] == "ack" && f["client_msg_id"] == "c-2"
			}, nil)
			if seen["before the crash"] != 1 {
				t.Fatalf("messages after resuming: %v", seen)
			}
			customer(t, h, joined["secret"].(string)).must(200, "POST", "/api/v1/customer/session/close", nil)
			events := tech.must(200, "GET", "/api/v1/sessions/"+activeID+"/events", nil)["events"].([]any)
			count := map[string]int{}
			for _, e := range events {
				count[e.(map[string]any)["type"].(string)]++
			}
			if count["message.chat"] != 3 || count["session.picked_up"] != 1 || count["session.closed"] != 1 {
				t.Fatalf("active session's outbox after the crash: %v", count)
			}

			// The pending code's validity timer was armed before the crash.
			deadline := armedAt.Add(time.Minute + 15*time.Second)
			for {
				s := tech.must(200, "GET", "/api/v1/sessions/"+pendingID, nil)
				if s["state"] == "timed_out" {
					if time.Since(armedAt) < time.Minute {
						t.Fatalf("code expired after %s, before its one-minute validity", time.Since(armedAt))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("code armed before the crash did not expire: %v", s["state"])
				}
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
}

// TestGracefulRestartRecordsTheDrop: SIGTERM closes the relay's sockets and
// records the customer's drop before the database closes, so the session is
// Reconnecting across the restart and Active again when the customer resumes.
func TestGracefulRestartRecordsTheDrop(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			_, _, tech := staff(t, h, master, "gil@example.com")
			created := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
			sid := id(created["session"].(map[string]any))
			joined := (&api{t: t, h: h}).must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"]})
			tech.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			cust := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
			cust.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil)

			h.Restart()

			if s := tech.must(200, "GET", "/api/v1/sessions/"+sid, nil); s["state"] != "reconnecting" {
				t.Fatalf("after a graceful restart the session is %v, want reconnecting", s["state"])
			}
			again := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
			again.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				s := tech.must(200, "GET", "/api/v1/sessions/"+sid, nil)
				if s["state"] == "active" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the customer resumed the session is %v", s["state"])
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}
