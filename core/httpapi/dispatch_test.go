package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/queue/smtptest"
	"github.com/tetherhq/tether/core/store/storetest"
)

// waitState polls a session until it reaches want (dispatch runs after commit).
func (e *env) waitState(token string, id int64, want string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var s map[string]any
		e.do("GET", "/api/v1/sessions/"+itoa(id), token, nil).json(e.t, &s)
		if s["state"] == want {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("session %d is %v, want %s", id, s["state"], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAutoStartAndWorkingHours(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		// A Wednesday: channel 2's Sunday-only window below is closed.
		clk := clocktest.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
		e := newEnvClock(t, db, clk.Now)
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"}))
		busyID, busy := e.technician(m, g, "busy@example.com")
		idleID, idle := e.technician(m, g, "idle@example.com")
		var chans struct {
			Channels []struct {
				ID int64 `json:"id"`
			} `json:"channels"`
		}
		e.do("GET", "/api/v1/channels", m, nil).json(t, &chans)
		ch, ch2 := itoa(chans.Channels[0].ID), itoa(chans.Channels[1].ID)
		e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)
		// Auto-start refuses to be saved for all channels (ORG-8) and stores nothing.
		r := e.do("PUT", "/api/v1/units/"+ch+"/settings/channel_queue", m, map[string]any{"mode": "all", "value": map[string]any{"auto_start_enabled": true}})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["mode"] == "" {
			t.Fatalf("auto-start for all channels: %d %s", r.Status, r.Body)
		}
		if r := e.do("PUT", "/api/v1/units/"+ch+"/settings/channel_queue", m, map[string]any{"value": map[string]any{"auto_start_enabled": true, "auto_start_max_active": 10}}); r.Status != 200 {
			t.Fatalf("auto-start: %d %s", r.Status, r.Body)
		}
		open := func(channel string) int64 {
			r := e.do("POST", "/api/v1/customer/channels/"+channel+"/sessions", "", map[string]any{})
			var j struct {
				Session struct {
					ID int64 `json:"id"`
				} `json:"session"`
			}
			r.json(t, &j)
			if r.Status != 201 {
				t.Fatalf("open: %d %s", r.Status, r.Body)
			}
			return j.Session.ID
		}
		// Nobody online: the session waits.
		first := open(ch)
		e.waitState(m, first, "waiting")
		// "busy" comes online and gets it by auto-start when it comes online.
		e.do("PUT", "/api/v1/me/status", busy, map[string]string{"status": "online"})
		s := e.waitState(m, first, "active")
		if int64(s["technician_id"].(float64)) != busyID {
			t.Fatalf("auto-start gave session to %v, want %d", s["technician_id"], busyID)
		}
		// Both online: the next goes to the one with fewer active sessions.
		e.do("PUT", "/api/v1/me/status", idle, map[string]string{"status": "online"})
		second := open(ch)
		s = e.waitState(m, second, "active")
		if int64(s["technician_id"].(float64)) != idleID {
			t.Fatalf("auto-start gave the second session to %v, want the less busy %d", s["technician_id"], idleID)
		}

		// Channel 2 is closed all week and ends sessions with a redirect.
		e.do("PUT", "/api/v1/channels/"+ch2+"/groups/"+g, m, nil)
		r = e.do("PUT", "/api/v1/units/"+ch2+"/settings/working_hours", m, map[string]any{"value": map[string]any{
			"enabled": true, "time_zone": "Europe/Paris", "start": "00:00", "end": "00:01", "days": []string{"sun"},
			"during_hours_no_tech": "keep", "outside_hours": "end", "end_url": "https://example.com/closed"}})
		if r.Status != 200 {
			t.Fatalf("working hours: %d %s", r.Status, r.Body)
		}
		rr := e.do("POST", "/api/v1/customer/channels/"+ch2+"/sessions", "", map[string]any{})
		var j struct {
			Secret string `json:"secret"`
		}
		rr.json(t, &j)
		deadline := time.Now().Add(10 * time.Second)
		for {
			var st map[string]any
			e.do("GET", "/api/v1/customer/session", j.Secret, nil).json(t, &st)
			if st["state"] == "closed" {
				if st["end_reason"] != "no_technician" || st["redirect_url"] != "https://example.com/closed" {
					t.Fatalf("closed outside hours: %v", st)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("session outside working hours is %v", st["state"])
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestNoTechnicianEmail: within working hours with nobody available and the
// "email" behaviour, the technicians who could take the session get one
// e-mail through a real SMTP server, once.
func TestNoTechnicianEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		mail := smtptest.Start(t)
		smtpURL[t] = mail.URL
		defer delete(smtpURL, t)
		clk := clocktest.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) // a Wednesday
		e := newEnvClock(t, db, clk.Now)
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"}))
		e.technician(m, g, "one@example.com")
		e.technician(m, g, "two@example.com")
		ch := e.firstChannel(m)
		e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)
		r := e.do("PUT", "/api/v1/units/"+ch+"/settings/working_hours", m, map[string]any{"value": map[string]any{
			"enabled": true, "time_zone": "UTC", "start": "08:00", "end": "18:00", "days": []string{"mon", "tue", "wed", "thu", "fri"},
			"during_hours_no_tech": "email", "outside_hours": "keep"}})
		if r.Status != 200 {
			t.Fatalf("working hours: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/customer/channels/"+ch+"/sessions", "", map[string]any{"fields": map[string]any{"cfields": []string{"Dora", "", "", "", "", ""}}})
		var j struct {
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		r.json(t, &j)
		deadline := time.Now().Add(10 * time.Second)
		for len(mail.Messages()) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		msgs := mail.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d e-mails, want 1", len(msgs))
		}
		to := strings.Join(msgs[0].To, ",")
		if to != "one@example.com,two@example.com" || !strings.Contains(string(msgs[0].Data), "Dora") {
			t.Fatalf("e-mail to %s: %s", to, msgs[0].Data)
		}
		// Dispatching again (a technician's status change) does not mail twice.
		if err := e.hub.Sessions.Dispatch(context.Background(), j.Session.ID); err != nil {
			t.Fatal(err)
		}
		if n := len(mail.Messages()); n != 1 {
			t.Fatalf("%d e-mails after a second dispatch", n)
		}
		e.waitState(m, j.Session.ID, "waiting")
	})
}
