package httpapi_test

import (
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// queueEntry is one line of GET /api/v1/queue as the console reads it.
type queueEntry struct {
	ID       int64 `json:"id"`
	Priority int   `json:"priority"`
}

func (e *env) queue(token string) []queueEntry {
	e.t.Helper()
	var q struct {
		Sessions []queueEntry `json:"sessions"`
	}
	e.do("GET", "/api/v1/queue", token, nil).json(e.t, &q)
	return q.Sessions
}

// TestGroupRulesRoutePrivateSessionsOverTheAPI: a rule of a technician
// group's list sends the group's private sessions that match to a
// technician of another group, with its session priority in the queue; the
// dry run explains a hand-written private session, an unsaved group rule
// and the real session (its group's list by default).
func TestGroupRulesRoutePrivateSessionsOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		level1 := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Level 1"}))
		level2 := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Level 2"}))
		_, pat := e.technician(m, level1, "pat@example.com")
		renID, ren := e.technician(m, level2, "ren@example.com")
		for _, tok := range []string{pat, ren} {
			e.do("PUT", "/api/v1/me/status", tok, map[string]string{"status": "online"})
		}
		rule := map[string]any{"name": "Escalations to level 2", "enabled": true,
			"when": `session.kind == "private" && session.tracking_id == "ESC"`,
			"then": map[string]any{"target": map[string]any{"kind": "technicians", "ids": []int64{renID}}, "session_priority": 40}}
		ruleID := e.create(m, "/api/v1/groups/"+level1+"/routing-rules", rule)

		type decision struct {
			Matched         bool  `json:"matched"`
			RuleID          int64 `json:"rule_id"`
			SessionPriority int   `json:"session_priority"`
			Steps           []struct {
				Eligible []int64 `json:"eligible"`
			} `json:"steps"`
		}
		dry := func(body map[string]any) decision {
			t.Helper()
			var d decision
			r := e.do("POST", "/api/v1/routing/dry-run", m, body)
			r.json(t, &d)
			if r.Status != 200 {
				t.Fatalf("dry run %v: %d %s", body, r.Status, r.Body)
			}
			return d
		}
		if d := dry(map[string]any{"group_id": atoi(level1), "session": map[string]any{"tracking_id": "ESC"}}); !d.Matched || d.RuleID != ruleID ||
			d.SessionPriority != 40 || len(d.Steps) != 1 || !slices.Equal(d.Steps[0].Eligible, []int64{renID}) {
			t.Fatalf("dry run of a hand-written private session: %+v", d)
		}
		if d := dry(map[string]any{"group_id": atoi(level1), "session": map[string]any{"tracking_id": "OTHER"}}); d.Matched {
			t.Fatalf("dry run of a private session no rule matches: %+v", d)
		}
		unsaved := map[string]any{"name": "Try", "enabled": true, "when": `session.group_id == ` + level1,
			"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []int64{atoi(level2)}}}}
		if d := dry(map[string]any{"group_id": atoi(level1), "session": map[string]any{}, "rule": unsaved}); !d.Matched ||
			!slices.Equal(d.Steps[0].Eligible, []int64{renID}) {
			t.Fatalf("dry run of an unsaved group rule: %+v", d)
		}
		r := e.do("POST", "/api/v1/routing/dry-run", m, map[string]any{"group_id": atoi(level1), "channel_id": 1, "session": map[string]any{}})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["channel_id"] == "" {
			t.Fatalf("dry run with a channel and a group: %d %s", r.Status, r.Body)
		}

		var created struct {
			PIN     string `json:"pin"`
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		e.do("POST", "/api/v1/sessions", pat, map[string]any{"fields": map[string]any{"tracking_id": "ESC"}}).json(t, &created)
		if r := e.do("POST", "/api/v1/customer/join", "", map[string]any{"pin": created.PIN}); r.Status != 201 {
			t.Fatalf("join: %d %s", r.Status, r.Body)
		}
		id := created.Session.ID
		e.waitQueue(ren, id, true)
		if q := e.queue(ren); len(q) != 1 || q[0].Priority != 40 {
			t.Fatalf("ren's queue: %+v", q)
		}
		if q := e.queue(pat); len(q) != 0 {
			t.Fatalf("the creator still sees the routed session: %+v", q)
		}
		if d := dry(map[string]any{"session_id": id}); !d.Matched || d.RuleID != ruleID {
			t.Fatalf("dry run of the real private session: %+v", d)
		}
		if r := e.do("POST", "/api/v1/sessions/"+itoa(id)+"/pickup", ren, nil); r.Status != 200 {
			t.Fatalf("pick-up by the rule's technician: %d %s", r.Status, r.Body)
		}
	})
}
