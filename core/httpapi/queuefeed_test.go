package httpapi_test

import (
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// TestLiveQueue: a technician's live queue shows a new channel session at
// once and drops it when a colleague picks it up.
func TestLiveQueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m, g, ann := e.groupWithTechnician("ann@example.com")
		_, bob := e.technician(m, g, "bob@example.com")
		ch := e.firstChannel(m)
		e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)

		live := e.dial("/api/v1/queue/live", ann)
		count := func(n int) func(map[string]any) bool {
			return func(f map[string]any) bool {
				s, _ := f["sessions"].([]any)
				return f["type"] == "queue" && len(s) == n
			}
		}
		live.until("the empty queue", count(0))
		var j struct {
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		e.do("POST", "/api/v1/customer/channels/"+ch+"/sessions", "", map[string]any{}).json(t, &j)
		f := live.until("the new session", count(1))
		if s := f["sessions"].([]any)[0].(map[string]any); s["state"] != "waiting" || s["id"] != float64(j.Session.ID) {
			t.Fatalf("pushed queue: %v", f)
		}
		if r := e.do("POST", "/api/v1/sessions/"+itoa(j.Session.ID)+"/pickup", bob, nil); r.Status != 200 {
			t.Fatalf("pickup: %d %s", r.Status, r.Body)
		}
		live.until("the session gone to a colleague", count(0))
		// Customers and administrators have no live queue.
		if r := e.do("GET", "/api/v1/queue/live", m, nil); r.Status != 403 {
			t.Fatalf("master's live queue: %d", r.Status)
		}
	})
}
