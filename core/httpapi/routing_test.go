package httpapi_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
)

// queueIDs is the session IDs in a technician's queue.
func (e *env) queueIDs(token string) []int64 {
	e.t.Helper()
	var q struct {
		Sessions []struct {
			ID int64 `json:"id"`
		} `json:"sessions"`
	}
	r := e.do("GET", "/api/v1/queue", token, nil)
	r.json(e.t, &q)
	var out []int64
	for _, s := range q.Sessions {
		out = append(out, s.ID)
	}
	return out
}

// waitQueue polls until the technician's queue does (or does not) hold id.
func (e *env) waitQueue(token string, id int64, want bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for slices.Contains(e.queueIDs(token), id) != want {
		if time.Now().After(deadline) {
			e.t.Fatalf("session %d in queue: want %v, queue %v", id, want, e.queueIDs(token))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRoutingRulesOverTheAPI: a channel rule offers a waiting session to the
// printer specialist first, then after the step's wait to a wider group;
// the dry run explains it; a broken rule is refused with every error.
func TestRoutingRulesOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
		e := newEnvClock(t, db, clk.Now)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go e.hub.Run(ctx)
		m := e.master()
		level1 := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Level 1"}))
		level2 := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Level 2"}))
		printerID, printer := e.technician(m, level1, "printer@example.com")
		plainID, plain := e.technician(m, level1, "plain@example.com")
		_, wide := e.technician(m, level2, "wide@example.com")
		if r := e.do("PATCH", "/api/v1/members/"+itoa(printerID), m, map[string]any{"skills": []string{"printers"}}); r.Status != 200 {
			t.Fatalf("skills: %d %s", r.Status, r.Body)
		}
		for _, tok := range []string{printer, plain, wide} {
			e.do("PUT", "/api/v1/me/status", tok, map[string]string{"status": "online"})
		}
		ch := e.firstChannel(m)
		e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+level1, m, nil)

		bad := map[string]any{"name": "bad", "enabled": true, "when": "session.platfrm == \"x\"",
			"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []int64{}},
				"steps": []any{map[string]any{"wait": "1m"}, map[string]any{"filter": "technician.skils[0] == 1"}}}}
		r := e.do("POST", "/api/v1/channels/"+ch+"/routing-rules", m, bad)
		_, _, fields := r.errorShape(t)
		if r.Status != 422 || fields["when"] == "" || fields["then.target.ids"] == "" || !strings.Contains(fields["then.steps[1].filter"], "line 1, column") {
			t.Fatalf("refused rule: %d %s", r.Status, r.Body)
		}

		rule := map[string]any{"name": "Printers first", "enabled": true, "when": "true",
			"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []int64{atoi(level1)}},
				"steps": []any{
					map[string]any{"filter": "\"printers\" in technician.skills", "wait": "60s"},
					map[string]any{"target": map[string]any{"kind": "group", "ids": []int64{atoi(level1), atoi(level2)}}},
				}}}
		ruleID := e.create(m, "/api/v1/channels/"+ch+"/routing-rules", rule)
		var list struct {
			Rules []map[string]any `json:"rules"`
		}
		e.do("GET", "/api/v1/channels/"+ch+"/routing-rules", m, nil).json(t, &list)
		if len(list.Rules) != 1 || int64(list.Rules[0]["id"].(float64)) != ruleID {
			t.Fatalf("list: %+v", list)
		}

		var dry struct {
			Matched bool `json:"matched"`
			Steps   []struct {
				Eligible []int64 `json:"eligible"`
				Excluded []struct {
					TechnicianID int64  `json:"technician_id"`
					Reason       string `json:"reason"`
				} `json:"excluded"`
			} `json:"steps"`
		}
		r = e.do("POST", "/api/v1/routing/dry-run", m, map[string]any{"channel_id": atoi(ch), "session": map[string]any{"platform": "windows"}})
		r.json(t, &dry)
		if r.Status != 200 || !dry.Matched || len(dry.Steps) != 2 || !slices.Equal(dry.Steps[0].Eligible, []int64{printerID}) ||
			len(dry.Steps[1].Eligible) != 3 {
			t.Fatalf("dry run: %d %s", r.Status, r.Body)
		}
		if !slices.ContainsFunc(dry.Steps[0].Excluded, func(x struct {
			TechnicianID int64  `json:"technician_id"`
			Reason       string `json:"reason"`
		}) bool {
			return x.TechnicianID == plainID && x.Reason == "filter"
		}) {
			t.Fatalf("dry run exclusions: %s", r.Body)
		}

		r = e.do("POST", "/api/v1/customer/channels/"+ch+"/sessions", "", map[string]any{})
		var opened struct {
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		r.json(t, &opened)
		id := opened.Session.ID
		e.waitState(m, id, "waiting")
		e.waitQueue(printer, id, true)
		if slices.Contains(e.queueIDs(plain), id) || slices.Contains(e.queueIDs(wide), id) {
			t.Fatalf("step 1 offers the session to the printer specialist only")
		}
		if r := e.do("POST", "/api/v1/sessions/"+itoa(id)+"/pickup", plain, nil); r.Status != 403 {
			t.Fatalf("pick-up outside the step: %d %s", r.Status, r.Body)
		}
		clk.Advance(61 * time.Second)
		e.hub.Timers.Wake()
		e.waitQueue(wide, id, true)
		e.waitQueue(plain, id, true)
		if r := e.do("POST", "/api/v1/sessions/"+itoa(id)+"/pickup", wide, nil); r.Status != 200 {
			t.Fatalf("pick-up in step 2: %d %s", r.Status, r.Body)
		}

		var audit struct {
			Entries []map[string]any `json:"entries"`
		}
		e.do("GET", "/api/v1/routing/audit?channel_id="+ch, m, nil).json(t, &audit)
		if len(audit.Entries) != 1 || audit.Entries[0]["action"] != "create" {
			t.Fatalf("audit: %+v", audit)
		}
		if r := e.do("DELETE", "/api/v1/routing/rules/"+itoa(ruleID), m, nil); r.Status != 204 {
			t.Fatalf("delete: %d %s", r.Status, r.Body)
		}
	})
}
