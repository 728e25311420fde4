package e2e

import (
	"testing"
)

// TestCollaborationHoldTransfer drives a session through the real binary:
// the owner invites a colleague, they talk among themselves without the
// customer seeing it, the owner holds and resumes, then transfers the
// session to the colleague with a comment, who picks it up and closes it.
func TestCollaborationHoldTransfer(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, _, ann := staff(t, h, master, "ann@example.com")
			bob := master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group["id"],
				"name": "Bob", "nickname": "Bob", "email": "bob@example.com", "password": "First-Pass-1"})
			bobTmp, _ := signIn(t, h, "bob@example.com", "First-Pass-1")
			bobTmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "First-Pass-1", "new_password": "Second-Pass-2"})
			bobAPI, _ := signIn(t, h, "bob@example.com", "Second-Pass-2")
			bobID := int64(bob["id"].(float64))

			created := ann.must(201, "POST", "/api/v1/sessions", map[string]any{"fields": map[string]any{"cfields": []string{"Carla", "", "", "", "", ""}}})
			sid := id(created["session"].(map[string]any))
			joined := (&api{t: t, h: h}).must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"], "client_kind": "web"})
			ann.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)

			cust := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
			annWS := dialRelay(t, h, "/api/v1/relay/sessions/"+sid+"?resume_after=0", ann.token)
			annWS.send(map[string]any{"type": "invite", "technician_id": bobID, "client_msg_id": "a-1"})
			annWS.await("invite stored", func(f map[string]any) bool { return f["type"] == "ack" && f["client_msg_id"] == "a-1" }, nil)
			bobWS := dialRelay(t, h, "/api/v1/relay/sessions/"+sid+"?resume_after=0", bobAPI.token)
			hello := bobWS.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil)
			if hello["role"] != "collaborator" {
				t.Fatalf("bob joined as %v", hello["role"])
			}
			bobWS.send(map[string]any{"type": "chat", "text": "seen this printer before", "audience": "technicians", "client_msg_id": "b-1"})
			annWS.await("technician-only chat", msgWith("chat", "seen this printer before"), nil)
			annWS.send(map[string]any{"type": "chat", "text": "hello Carla", "client_msg_id": "a-2"})
			cust.await("the owner's chat", msgWith("chat", "hello Carla"), msgWith("chat", "seen this printer before"))

			ann.must(200, "POST", "/api/v1/sessions/"+sid+"/hold", nil)
			ann.must(200, "POST", "/api/v1/sessions/"+sid+"/resume", nil)
			// Transfers go only to available technicians (SESS-10).
			ann.call("POST", "/api/v1/sessions/"+sid+"/transfer", map[string]any{"target_kind": "technician", "target_id": bobID, "comment": "printer expert"})
			if s := ann.must(200, "GET", "/api/v1/sessions/"+sid, nil); s["state"] != "active" {
				t.Fatalf("transfer to an offline technician changed the session: %v", s["state"])
			}
			bobAPI.must(204, "PUT", "/api/v1/me/status", map[string]string{"status": "online"})
			ann.must(200, "POST", "/api/v1/sessions/"+sid+"/transfer", map[string]any{"target_kind": "technician", "target_id": bobID, "comment": "printer expert"})
			q := bobAPI.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any)
			if len(q) != 1 || q[0].(map[string]any)["transfer_comment"] != "printer expert" || q[0].(map[string]any)["direction"] != "incoming" {
				t.Fatalf("bob's queue: %v", q)
			}
			bobAPI.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			bob2 := dialRelay(t, h, "/api/v1/relay/sessions/"+sid+"?resume_after=0", bobAPI.token)
			if hello := bob2.await("hello", func(f map[string]any) bool { return f["type"] == "hello" }, nil); hello["role"] != "owner" {
				t.Fatalf("bob after pickup is %v", hello["role"])
			}
			bob2.send(map[string]any{"type": "chat", "text": "Bob here, taking over", "client_msg_id": "b-2"})
			cust.await("the new owner's chat", msgWith("chat", "Bob here"), msgWith("chat", "seen this printer before"))
			s := bobAPI.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
			if s["state"] != "closed" || s["technician_id"] != float64(bobID) {
				t.Fatalf("closed: %v", s)
			}
			evs := bobAPI.must(200, "GET", "/api/v1/sessions/"+sid+"/events", nil)["events"].([]any)
			count := map[string]int{}
			for _, e := range evs {
				count[e.(map[string]any)["type"].(string)]++
			}
			for typ, n := range map[string]int{"session.on_hold": 1, "session.resumed": 1, "session.transferred": 1, "session.picked_up": 2, "session.closed": 1, "message.collab": 2, "message.chat": 3} {
				if count[typ] != n {
					t.Fatalf("outbox has %d %s, want %d: %v", count[typ], typ, n, count)
				}
			}
		})
	}
}
