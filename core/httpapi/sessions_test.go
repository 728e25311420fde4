package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
)

// technician creates a group and a technician with a known password, signed in.
// firstChannel is the ID of the organisation's first channel.
func (e *env) firstChannel(master string) string {
	e.t.Helper()
	var chans struct {
		Channels []struct {
			ID int64 `json:"id"`
		} `json:"channels"`
	}
	e.do("GET", "/api/v1/channels", master, nil).json(e.t, &chans)
	if len(chans.Channels) == 0 {
		e.t.Fatal("no channel")
	}
	return itoa(chans.Channels[0].ID)
}

func (e *env) technician(master, group, email string) (int64, string) {
	e.t.Helper()
	id := e.create(master, "/api/v1/members", map[string]any{"role": "technician", "group_id": atoi(group), "name": email, "nickname": "Nick " + email, "email": email, "password": "Tech-Pass-99"})
	tmp := e.signIn(email, "Tech-Pass-99")
	if r := e.do("POST", "/api/v1/auth/password", tmp, map[string]string{"current_password": "Tech-Pass-99", "new_password": "Tech-Pass-100"}); r.Status != 204 {
		e.t.Fatalf("change password: %d %s", r.Status, r.Body)
	}
	return id, e.signIn(email, "Tech-Pass-100")
}

func TestSessionFlowsOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "Helpdesk"}))
		tid, tech := e.technician(m, g, "tina@example.com")
		_, tech2 := e.technician(m, g, "tom@example.com")

		// Private session: the technician reads the PIN to the customer, or
		// sends the group's connection e-mail (SESS-3).
		if r := e.do("PUT", "/api/v1/units/"+g+"/settings/invitation_email", m, map[string]any{"value": map[string]any{
			"subject": "Help for {name}", "body": "Code: {pin}", "signature": "-- {technician}"}}); r.Status != 200 {
			t.Fatalf("invitation: %d %s", r.Status, r.Body)
		}
		r := e.do("POST", "/api/v1/sessions", tech, map[string]any{"fields": map[string]any{"cfields": []string{"Alice", "", "", "", "", ""}, "tracking_id": "CASE-7"}})
		var created struct {
			Invitation struct {
				Subject string `json:"subject"`
				Body    string `json:"body"`
			} `json:"invitation"`
			PIN     string `json:"pin"`
			Session struct {
				ID    int64  `json:"id"`
				State string `json:"state"`
			} `json:"session"`
		}
		r.json(t, &created)
		if r.Status != 201 || len(created.PIN) != 6 || created.Session.State != "pending" {
			t.Fatalf("create private: %d %s", r.Status, r.Body)
		}
		if created.Invitation.Subject != "Help for Alice" || created.Invitation.Body != "Code: "+created.PIN+"\n\n-- Nick tina@example.com" {
			t.Fatalf("invitation: %+v", created.Invitation)
		}
		r = e.do("POST", "/api/v1/customer/join", "", map[string]any{"pin": "99999x"})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["pin"] == "" {
			t.Fatalf("malformed PIN: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/customer/join", "", map[string]any{"pin": created.PIN, "client_kind": "applet", "platform": "linux"})
		var joined struct {
			Secret  string `json:"secret"`
			Session struct {
				State string `json:"state"`
			} `json:"session"`
		}
		r.json(t, &joined)
		if r.Status != 201 || joined.Secret == "" || joined.Session.State != "waiting" {
			t.Fatalf("join: %d %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "technician_id") {
			t.Fatalf("the customer sees internal fields: %s", r.Body)
		}
		r = e.do("GET", "/api/v1/customer/session", joined.Secret, nil)
		var st struct {
			State    string  `json:"state"`
			Position int     `json:"position"`
			Wait     float64 `json:"estimated_wait_seconds"`
		}
		r.json(t, &st)
		if r.Status != 200 || st.State != "waiting" || st.Position != 1 || st.Wait <= 0 {
			t.Fatalf("customer status: %d %s", r.Status, r.Body)
		}
		// The other technician cannot take someone else's private session.
		if r := e.do("POST", "/api/v1/sessions/"+itoa(created.Session.ID)+"/pickup", tech2, nil); r.Status != 403 {
			t.Fatalf("tom picked up tina's private session: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/api/v1/sessions/"+itoa(created.Session.ID)+"/pickup", tech, nil); r.Status != 200 {
			t.Fatalf("pickup: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/api/v1/sessions/"+itoa(created.Session.ID)+"/pickup", tech, nil); r.Status != 409 {
			t.Fatalf("second pickup: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/sessions/"+itoa(created.Session.ID)+"/transfer", tech, map[string]any{"target_kind": "technician", "target_id": 999999})
		if _, _, f := r.errorShape(t); r.Status != 422 || f["target_id"] == "" {
			t.Fatalf("transfer to nobody: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/api/v1/customer/session/close", joined.Secret, nil); r.Status != 200 {
			t.Fatalf("customer close: %d %s", r.Status, r.Body)
		}
		r = e.do("GET", "/api/v1/sessions/"+itoa(created.Session.ID)+"/events", tech, nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `"session.closed"`) {
			t.Fatalf("events: %d %s", r.Status, r.Body)
		}

		// Channel session with terms; Channel 1 is given to the group.
		ch := e.firstChannel(m)
		e.do("PUT", "/api/v1/channels/"+ch+"/groups/"+g, m, nil)
		if r := e.do("PUT", "/api/v1/units/"+ch+"/settings/terms", m, map[string]any{"value": map[string]any{"enabled": true, "text": "Be nice", "force_scroll": true}}); r.Status != 200 {
			t.Fatalf("terms: %d %s", r.Status, r.Body)
		}
		r = e.do("POST", "/api/v1/customer/channels/"+ch+"/sessions", "", map[string]any{"fields": map[string]any{"cfields": []string{"Bob", "", "", "", "", ""}}, "client_kind": "web"})
		r.json(t, &joined)
		if r.Status != 201 || joined.Session.State != "connecting" || !strings.Contains(string(r.Body), "Be nice") {
			t.Fatalf("open channel: %d %s", r.Status, r.Body)
		}
		if r := e.do("POST", "/api/v1/customer/session/terms", joined.Secret, map[string]any{"accept": true}); r.Status != 200 {
			t.Fatalf("accept terms: %d %s", r.Status, r.Body)
		}
		var q struct {
			Sessions []struct {
				ID    int64  `json:"id"`
				State string `json:"state"`
			} `json:"sessions"`
		}
		e.do("GET", "/api/v1/queue", tech2, nil).json(t, &q)
		if len(q.Sessions) != 1 || q.Sessions[0].State != "waiting" {
			t.Fatalf("tom's queue: %+v", q)
		}
		chSession := itoa(q.Sessions[0].ID)

		// The compatibility API: an administrator sees and starts it for Tina.
		code := strings.TrimPrefix(e.compat(http.DefaultClient, "GET", "requestAuthCode", url.Values{"email": {masterEmail}, "pwd": {masterPW}}), "OK AUTHCODE:")
		list := e.compat(http.DefaultClient, "GET", "getSession_v3", url.Values{"authcode": {code}, "node": {ch}, "noderef": {"CHANNEL"}})
		if !strings.HasPrefix(list, "OK ID|Status|") || !strings.Contains(list, "\r\n"+chSession+"|Waiting|"+ch+"|") {
			t.Fatalf("getSession_v3: %q", list)
		}
		if got := e.compat(http.DefaultClient, "GET", "isAnyTechAvailableOnChannel", url.Values{"authcode": {code}, "ChannelID": {ch}}); got != "FALSE" {
			t.Fatalf("nobody online yet: %q", got)
		}
		if r := e.do("GET", "/api/v1/me/status", tech, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"offline"`) {
			t.Fatalf("status before choosing one: %d %s", r.Status, r.Body)
		}
		if r := e.do("PUT", "/api/v1/me/status", tech, map[string]string{"status": "online"}); r.Status != 204 {
			t.Fatalf("status: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/api/v1/me/status", tech, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"status":"online"`) {
			t.Fatalf("status after choosing online: %d %s", r.Status, r.Body)
		}
		if got := e.compat(http.DefaultClient, "GET", "isAnyTechAvailableOnChannel", url.Values{"authcode": {code}, "ChannelID": {ch}, "ExcludingAwayAndBusy": {"true"}}); got != "TRUE" {
			t.Fatalf("tina online: %q", got)
		}
		if got := e.compat(http.DefaultClient, "POST", "startSession", url.Values{"authcode": {code}, "session": {chSession}, "node": {itoa(tid)}}); got != "OK" {
			t.Fatalf("startSession: %q", got)
		}
		if got := e.compat(http.DefaultClient, "GET", "holdSession", url.Values{"authcode": {code}, "session": {chSession}}); got != "OK" {
			t.Fatalf("holdSession: %q", got)
		}
		if got := e.compat(http.DefaultClient, "GET", "holdSession", url.Values{"authcode": {code}, "session": {chSession}}); got != "ACTIONFAILED" {
			t.Fatalf("second holdSession: %q", got)
		}
		if got := e.compat(http.DefaultClient, "GET", "closeSession", url.Values{"authcode": {code}, "session": {"424242"}}); got != "INVALIDPARAM_SESSION" {
			t.Fatalf("closeSession of nothing: %q", got)
		}
		if got := e.compat(http.DefaultClient, "GET", "closeSession", url.Values{"authcode": {code}, "session": {chSession}}); got != "OK" {
			t.Fatalf("closeSession: %q", got)
		}
		// requestPINCode from a technician's auth code.
		tcode := strings.TrimPrefix(e.compat(http.DefaultClient, "GET", "requestAuthCode", url.Values{"email": {"tina@example.com"}, "pwd": {"Tech-Pass-100"}}), "OK AUTHCODE:")
		if got := e.compat(http.DefaultClient, "POST", "requestPINCode", url.Values{"authcode": {tcode}, "cfield0": {"Carol"}, "tracking0": {"T-1"}}); !strings.HasPrefix(got, "OK PINCODE:") || len(got) != len("OK PINCODE:")+6 {
			t.Fatalf("requestPINCode: %q", got)
		}
		if got := e.compat(http.DefaultClient, "POST", "requestPINCode", url.Values{"authcode": {code}}); got != "NOTTECHNICIAN" {
			t.Fatalf("requestPINCode as master: %q", got)
		}
	})
}

// TestTimersFireThroughTheHub runs the hub's sweeper with a test clock: a
// PIN left unused expires when its validity runs out.
func TestTimersFireThroughTheHub(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
		e := newEnvClock(t, db, clk.Now)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go e.hub.Run(ctx)
		m := e.master()
		g := itoa(e.create(m, "/api/v1/tech-groups", map[string]any{"name": "G"}))
		e.do("PUT", "/api/v1/units/"+g+"/settings/timeouts", m, map[string]any{"value": map[string]any{"code_validity_minutes": 2, "connecting_minutes": 10}})
		_, tech := e.technician(m, g, "t@example.com")
		r := e.do("POST", "/api/v1/sessions", tech, map[string]any{})
		var created struct {
			Session struct {
				ID int64 `json:"id"`
			} `json:"session"`
		}
		r.json(t, &created)
		clk.Advance(2*time.Minute + time.Second)
		e.hub.Timers.Wake()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var s struct {
				State string `json:"state"`
			}
			e.do("GET", "/api/v1/sessions/"+itoa(created.Session.ID), tech, nil).json(t, &s)
			if s.State == "timed_out" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("code did not expire: state %s", s.State)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
