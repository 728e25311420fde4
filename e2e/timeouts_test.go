package e2e

import (
	"testing"
	"time"
)

// TestEveryTimeoutThroughTheBinary arms each SESS-8 timeout and a Q-1
// auto-transfer at one minute (the smallest the settings allow), then waits
// for all of them together: the pending code expires, the session stuck on
// the terms times out connecting, the unanswered one times out waiting, the
// silent active one times out idle, and the auto-transfer moves a waiting
// session to the second channel with System as transferrer.
func TestEveryTimeoutThroughTheBinary(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, _, tech := staff(t, h, master, "tim@example.com")
			gid := id(group)
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			ch1, ch2, ch3 := id(chans[0].(map[string]any)), id(chans[1].(map[string]any)), id(chans[2].(map[string]any))
			for _, ch := range []string{ch1, ch2, ch3} {
				master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+gid, nil)
			}
			one := map[string]any{"code_validity_minutes": 1, "connecting_minutes": 1, "waiting_minutes": 1, "idle_minutes": 1}
			master.must(200, "PUT", "/api/v1/units/"+gid+"/settings/timeouts", map[string]any{"value": one})
			master.must(200, "PUT", "/api/v1/units/"+ch1+"/settings/timeouts", map[string]any{"mode": "all", "value": one})
			master.must(200, "PUT", "/api/v1/units/"+ch1+"/settings/terms", map[string]any{"value": map[string]any{"enabled": true, "text": "Terms"}})
			noWait := map[string]any{"code_validity_minutes": 1, "connecting_minutes": 1, "waiting_minutes": 0, "idle_minutes": 1}
			master.must(200, "PUT", "/api/v1/units/"+ch2+"/settings/timeouts", map[string]any{"value": noWait})
			master.must(200, "PUT", "/api/v1/units/"+ch3+"/settings/timeouts", map[string]any{"value": noWait})
			master.must(200, "PUT", "/api/v1/units/"+ch2+"/settings/channel_queue", map[string]any{"value": map[string]any{
				"auto_transfer_enabled": true, "auto_transfer_minutes": 1, "auto_transfer_channel_id": atoi(ch3)}})
			anon := &api{t: t, h: h}
			start := time.Now()

			pending := id(tech.must(201, "POST", "/api/v1/sessions", map[string]any{})["session"].(map[string]any))
			connecting := anon.must(201, "POST", "/api/v1/customer/channels/"+ch1+"/sessions", map[string]any{})
			master.must(200, "PUT", "/api/v1/units/"+ch1+"/settings/terms", map[string]any{"value": map[string]any{"enabled": false}})
			waiting := anon.must(201, "POST", "/api/v1/customer/channels/"+ch1+"/sessions", map[string]any{})
			created := tech.must(201, "POST", "/api/v1/sessions", map[string]any{})
			anon.must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": created["pin"]})
			idle := id(created["session"].(map[string]any))
			tech.must(200, "POST", "/api/v1/sessions/"+idle+"/pickup", nil)
			moving := anon.must(201, "POST", "/api/v1/customer/channels/"+ch2+"/sessions", map[string]any{})

			state := func(secret string) map[string]any {
				return customer(t, h, secret).must(200, "GET", "/api/v1/customer/session", nil)
			}
			// Nothing has fired early.
			if s := tech.must(200, "GET", "/api/v1/sessions/"+pending, nil); s["state"] != "pending" {
				t.Fatalf("pending session is %v at once", s["state"])
			}
			deadline := start.Add(90 * time.Second)
			for {
				a := tech.must(200, "GET", "/api/v1/sessions/"+pending, nil)["state"]
				b := state(connecting["secret"].(string))
				c := state(waiting["secret"].(string))
				d := tech.must(200, "GET", "/api/v1/sessions/"+idle, nil)["state"]
				q := tech.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any)
				moved := false
				for _, e := range q {
					e := e.(map[string]any)
					if e["queue_id"] == atof(ch3) && e["direction"] == "incoming" && e["transferred_by"] == float64(0) {
						moved = true
					}
				}
				if a == "timed_out" && b["end_reason"] == "connecting_timeout" && c["end_reason"] == "waiting_timeout" && d == "timed_out" && moved {
					if time.Since(start) < time.Minute {
						t.Fatalf("timeouts fired after %s, before their minute", time.Since(start))
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after %s: pending=%v connecting=%v waiting=%v idle=%v auto-transferred=%v", time.Since(start), a, b["end_reason"], c["end_reason"], d, moved)
				}
				time.Sleep(time.Second)
			}
			if s := state(moving["secret"].(string)); s["state"] != "waiting" {
				t.Fatalf("auto-transferred session is %v, want still waiting in the new channel", s["state"])
			}
		})
	}
}

func atof(s string) float64 { return float64(atoi(s)) }

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}
