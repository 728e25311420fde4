package e2e

import (
	"testing"
	"time"
)

// TestAutoStartAndClosedHoursThroughTheBinary: a channel with auto-start
// gives a waiting session to the technician who comes online; a channel
// closed every day ends sessions and sends the customer to its URL.
func TestAutoStartAndClosedHoursThroughTheBinary(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, techID, tech := staff(t, h, master, "ida@example.com")
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			ch1, ch2 := id(chans[0].(map[string]any)), id(chans[1].(map[string]any))
			for _, ch := range []string{ch1, ch2} {
				master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+id(group), nil)
			}
			master.must(200, "PUT", "/api/v1/units/"+ch1+"/settings/channel_queue", map[string]any{"value": map[string]any{"auto_start_enabled": true}})
			// Open one minute a week, at a time this test is not running.
			closed := time.Now().UTC().Add(12 * time.Hour)
			master.must(200, "PUT", "/api/v1/units/"+ch2+"/settings/working_hours", map[string]any{"value": map[string]any{
				"enabled": true, "time_zone": "UTC", "start": closed.Format("15:04"), "end": closed.Add(time.Minute).Format("15:04"),
				"days":                 []string{[]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}[closed.Weekday()]},
				"during_hours_no_tech": "keep", "outside_hours": "end", "end_url": "https://example.com/hours"}})
			anon := &api{t: t, h: h}
			waiting := anon.must(201, "POST", "/api/v1/customer/channels/"+ch1+"/sessions", map[string]any{})
			ended := anon.must(201, "POST", "/api/v1/customer/channels/"+ch2+"/sessions", map[string]any{})
			tech.must(204, "PUT", "/api/v1/me/status", map[string]string{"status": "online"})
			deadline := time.Now().Add(15 * time.Second)
			for {
				w := customer(t, h, waiting["secret"].(string)).must(200, "GET", "/api/v1/customer/session", nil)
				e := customer(t, h, ended["secret"].(string)).must(200, "GET", "/api/v1/customer/session", nil)
				if w["state"] == "active" && e["state"] == "closed" {
					if e["end_reason"] != "no_technician" || e["redirect_url"] != "https://example.com/hours" {
						t.Fatalf("closed-hours session: %v", e)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("auto-start: %v; closed hours: %v", w["state"], e["state"])
				}
				time.Sleep(100 * time.Millisecond)
			}
			sid := id(waiting["session"].(map[string]any))
			if s := tech.must(200, "GET", "/api/v1/sessions/"+sid, nil); id(map[string]any{"id": s["technician_id"]}) != techID {
				t.Fatalf("auto-started with %v, want %s", s["technician_id"], techID)
			}

			// At the channel's threshold of one active session, the next
			// customer waits; when the technician closes the first session,
			// auto-start gives them the one waiting.
			master.must(200, "PUT", "/api/v1/units/"+ch1+"/settings/channel_queue", map[string]any{"value": map[string]any{
				"auto_start_enabled": true, "auto_start_max_active": 1}})
			next := anon.must(201, "POST", "/api/v1/customer/channels/"+ch1+"/sessions", map[string]any{})
			time.Sleep(500 * time.Millisecond) // dispatching had its chance
			if n := customer(t, h, next["secret"].(string)).must(200, "GET", "/api/v1/customer/session", nil); n["state"] != "waiting" {
				t.Fatalf("second session %v while the technician is at the threshold, want waiting", n["state"])
			}
			tech.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				n := customer(t, h, next["secret"].(string)).must(200, "GET", "/api/v1/customer/session", nil)
				if n["state"] == "active" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("second session %v after the technician closed the first, want active (auto-started)", n["state"])
				}
			}
		})
	}
}
