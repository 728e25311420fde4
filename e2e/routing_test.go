package e2e

import (
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

// routedTech is a technician of group with the given skills, signed in.
func routedTech(t *testing.T, h *Hub, master *api, group map[string]any, email string, skills []string) (string, *api) {
	t.Helper()
	m := master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group["id"],
		"name": email, "email": email, "password": "First-Pass-1", "skills": skills})
	if fmt.Sprint(m["skills"]) != fmt.Sprint(skills) {
		t.Fatalf("created with skills %v, want %v", m["skills"], skills)
	}
	tmp, _ := signIn(t, h, email, "First-Pass-1")
	tmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "First-Pass-1", "new_password": "Second-Pass-2"})
	tech, _ := signIn(t, h, email, "Second-Pass-2")
	return id(m), tech
}

// inQueue reports whether the technician's queue shows session sid.
func inQueue(tech *api, sid string) bool {
	tech.t.Helper()
	for _, s := range tech.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any) {
		if id(s.(map[string]any)) == sid {
			return true
		}
	}
	return false
}

// ids turns a JSON list of numbers into sorted decimal strings.
func ids(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(int64(x.(float64))))
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

// TestRoutingRuleEscalatesThroughTheBinary: a channel served by two
// technician groups has a rule whose first step offers a waiting session to
// the technicians with the "printers" skill for 2 s and whose second step
// widens it to both groups. Only the skilled technician sees the session
// (another one is refused the pickup); the dry run on the real session
// names the rule and the eligible technicians; after the wait a technician
// of the other group sees the session and picks it up.
func TestRoutingRuleEscalatesThroughTheBinary(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			first, amyID, amy := staff(t, h, master, "amy@example.com")
			second := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Level 2"})
			benID, ben := routedTech(t, h, master, first, "ben@example.com", []string{"networking"})
			calID, cal := routedTech(t, h, master, second, "cal@example.com", []string{"windows"})
			// Amy's skills are set afterwards, through PATCH.
			if m := master.must(200, "PATCH", "/api/v1/members/"+amyID, map[string]any{"skills": []string{"printers", "scanners"}}); fmt.Sprint(m["skills"]) != "[printers scanners]" {
				t.Fatalf("amy's skills: %v", m["skills"])
			}
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			ch := id(chans[0].(map[string]any))
			for _, g := range []map[string]any{first, second} {
				master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+id(g), nil)
			}

			rules := "/api/v1/channels/" + ch + "/routing-rules"
			transferred := master.must(201, "POST", rules, map[string]any{"name": "Transferred to level 2", "enabled": true,
				"when": "session.transfer_count > 0", "then": map[string]any{"target": map[string]any{"kind": "group", "ids": []any{second["id"]}}}})
			printers := master.must(201, "POST", rules, map[string]any{"name": "Printer specialists first", "enabled": true,
				"when": "session.kind == \"channel\"",
				"then": map[string]any{"target": map[string]any{"kind": "channel", "ids": []any{chans[0].(map[string]any)["id"]}},
					"steps": []any{
						map[string]any{"filter": "\"printers\" in technician.skills && technician.status == \"online\"", "wait": "2s"},
						map[string]any{"target": map[string]any{"kind": "group", "ids": []any{first["id"], second["id"]}}},
					}}})
			if got := master.must(200, "GET", rules, nil)["rules"].([]any); len(got) != 2 {
				t.Fatalf("channel rules: %v", got)
			}
			for _, tech := range []*api{amy, ben, cal} {
				tech.must(204, "PUT", "/api/v1/me/status", map[string]string{"status": "online"})
			}

			opened := time.Now()
			waiting := (&api{t: t, h: h}).must(201, "POST", "/api/v1/customer/channels/"+ch+"/sessions", map[string]any{})
			sid := id(waiting["session"].(map[string]any))
			for !inQueue(amy, sid) {
				if time.Since(opened) > 5*time.Second {
					t.Fatalf("the printer specialist does not see session %s", sid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if st := customer(t, h, waiting["secret"].(string)).must(200, "GET", "/api/v1/customer/session", nil); st["state"] != "waiting" {
				t.Fatalf("customer's session: %v", st)
			}
			if inQueue(ben, sid) || inQueue(cal, sid) {
				t.Fatal("technicians without the printers skill see the session during the first step")
			}
			if code, out := ben.call("POST", "/api/v1/sessions/"+sid+"/pickup", nil); code != 403 {
				t.Fatalf("pickup by ben during the first step: %d %v, want 403", code, out)
			}

			// The dry run on the real session: the second rule matched, Amy is
			// eligible for the first step, everyone for the second.
			d := master.must(200, "POST", "/api/v1/routing/dry-run", map[string]any{"session_id": waiting["session"].(map[string]any)["id"]})
			trace, _ := d["trace"].([]any)
			if d["matched"] != true || id(map[string]any{"id": d["rule_id"]}) != id(printers) || len(trace) != 2 ||
				trace[0].(map[string]any)["outcome"] != "false" || id(map[string]any{"id": trace[0].(map[string]any)["rule_id"]}) != id(transferred) ||
				trace[1].(map[string]any)["outcome"] != "matched" {
				t.Fatalf("dry run: %v", d)
			}
			steps := d["steps"].([]any)
			s0, s1 := steps[0].(map[string]any), steps[1].(map[string]any)
			if got := ids(s0["eligible"]); !slices.Equal(got, []string{amyID}) || s0["wait"] != "2s" {
				t.Fatalf("dry run, first step: %v", s0)
			}
			excluded := map[string]any{}
			for _, e := range s0["excluded"].([]any) {
				excluded[id(map[string]any{"id": e.(map[string]any)["technician_id"]})] = e.(map[string]any)["reason"]
			}
			if len(excluded) != 2 || excluded[benID] != "filter" || excluded[calID] != "filter" {
				t.Fatalf("dry run, excluded from the first step: %v", excluded)
			}
			if got := ids(s1["eligible"]); !slices.Equal(got, sorted(amyID, benID, calID)) || s1["starts_after"] != "2s" {
				t.Fatalf("dry run, second step: %v", s1)
			}

			// After the first step's wait the second step offers it to Cal.
			for !inQueue(cal, sid) {
				if time.Since(opened) > 10*time.Second {
					t.Fatalf("the second step did not start within 10 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if waited := time.Since(opened); waited < 2*time.Second {
				t.Fatalf("the second step started %s after the session opened, before the first step's 2 s", waited)
			}
			if !inQueue(ben, sid) || !inQueue(amy, sid) {
				t.Fatal("the second step offers the session to both groups")
			}
			cal.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			if s := cal.must(200, "GET", "/api/v1/sessions/"+sid, nil); s["state"] != "active" || id(map[string]any{"id": s["technician_id"]}) != calID {
				t.Fatalf("after the pickup: %v", s)
			}
			if code, _ := amy.call("POST", "/api/v1/sessions/"+sid+"/pickup", nil); code != 409 {
				t.Fatalf("a second pickup answered %d, want 409", code)
			}
		})
	}
}

// queueEntry is session sid in the technician's queue, nil when it is not
// there, with its place in the list.
func queueEntry(tech *api, sid string) (map[string]any, int) {
	tech.t.Helper()
	for i, s := range tech.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any) {
		if id(s.(map[string]any)) == sid {
			return s.(map[string]any), i
		}
	}
	return nil, -1
}

// TestRoutingRulePrivateSessionThroughTheBinary: a rule of Amy's technician
// group sends her private sessions for escalation to Cal, of another group,
// for 2 s with priority 40, then back to her group. Amy does not see the
// session (and may not pick it up) while Cal does; the dry run on the real
// session uses the group's list; after the wait it is back in Amy's queue,
// ahead of her own private session that no rule matched and that has
// waited longer.
func TestRoutingRulePrivateSessionThroughTheBinary(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			first, _, amy := staff(t, h, master, "amy@example.com")
			second := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Level 2"})
			calID, cal := routedTech(t, h, master, second, "cal@example.com", []string{"escalations"})
			for _, tech := range []*api{amy, cal} {
				tech.must(204, "PUT", "/api/v1/me/status", map[string]string{"status": "online"})
			}
			rule := master.must(201, "POST", "/api/v1/groups/"+id(first)+"/routing-rules", map[string]any{
				"name": "Escalations to level 2", "enabled": true,
				"when": `session.kind == "private" && session.tracking_id == "ESC"`,
				"then": map[string]any{"target": map[string]any{"kind": "technicians", "ids": []any{atoi(calID)}},
					"session_priority": 40,
					"steps": []any{
						map[string]any{"filter": `"escalations" in technician.skills`, "wait": "2s"},
						map[string]any{"target": map[string]any{"kind": "group", "ids": []any{first["id"]}}},
					}}})

			anon := &api{t: t, h: h}
			private := func(tracking string) string {
				t.Helper()
				c := amy.must(201, "POST", "/api/v1/sessions", map[string]any{"fields": map[string]any{"tracking_id": tracking}})
				anon.must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": c["pin"]})
				return id(c["session"].(map[string]any))
			}
			own := private("")
			opened := time.Now()
			escalated := private("ESC")
			for !inQueue(cal, escalated) {
				if time.Since(opened) > 5*time.Second {
					t.Fatalf("cal does not see the escalated private session %s", escalated)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if e, _ := queueEntry(cal, escalated); e["priority"] != float64(40) || e["kind"] != "private" {
				t.Fatalf("the escalated session in cal's queue: %v", e)
			}
			if inQueue(amy, escalated) {
				t.Fatal("the creator sees the private session a rule sent to cal")
			}
			// Routing (in the background) decides it too: until then a group
			// with rules shows it to nobody.
			for !inQueue(amy, own) {
				if time.Since(opened) > 5*time.Second {
					t.Fatalf("amy does not see her private session %s that no rule matched", own)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if e, _ := queueEntry(amy, own); e["priority"] != float64(0) {
				t.Fatalf("amy's private session no rule matched: %v", e)
			}
			if code, out := amy.call("POST", "/api/v1/sessions/"+escalated+"/pickup", nil); code != 403 {
				t.Fatalf("pickup by amy during the first step: %d %v, want 403", code, out)
			}

			d := master.must(200, "POST", "/api/v1/routing/dry-run", map[string]any{"session_id": atoi(escalated)})
			s0 := d["steps"].([]any)[0].(map[string]any)
			if d["matched"] != true || id(map[string]any{"id": d["rule_id"]}) != id(rule) || d["session_priority"] != float64(40) ||
				!slices.Equal(ids(s0["eligible"]), []string{calID}) {
				t.Fatalf("dry run of the private session: %v", d)
			}

			for !inQueue(amy, escalated) {
				if time.Since(opened) > 10*time.Second {
					t.Fatal("the second step did not start within 10 s")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if waited := time.Since(opened); waited < 2*time.Second {
				t.Fatalf("the second step started %s after the session opened, before the first step's 2 s", waited)
			}
			if inQueue(cal, escalated) {
				t.Fatal("cal still sees the session in the second step")
			}
			_, ePos := queueEntry(amy, escalated)
			_, oPos := queueEntry(amy, own)
			if ePos < 0 || oPos < 0 || ePos > oPos {
				t.Fatalf("amy's queue lists the escalated session (priority 40) at %d and her own (priority 0, waiting longer) at %d", ePos, oPos)
			}
			amy.must(200, "POST", "/api/v1/sessions/"+escalated+"/pickup", nil)
		})
	}
}
