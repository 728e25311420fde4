package applet_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/tetherhq/tether/core/applet"
)

// fakeHub answers the customer REST API from a table of path -> handler.
func fakeHub(t *testing.T, routes map[string]http.HandlerFunc) *applet.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL + "/prefix/")
	return &applet.Client{Server: u}
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestJoinPINThenStatus(t *testing.T) {
	c := fakeHub(t, map[string]http.HandlerFunc{
		"POST /prefix/api/v1/customer/join": func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			json.NewDecoder(r.Body).Decode(&body)
			want := map[string]any{"pin": "123456", "client_kind": "applet", "platform": "linux/amd64", "language": "en"}
			if r.Header.Get("Content-Type") != "application/json" || len(body) != len(want) || body["pin"] != "123456" || body["client_kind"] != "applet" {
				t.Errorf("join body %v", body)
			}
			reply(201, `{"secret":"s-1","session":{"id":42,"state":"connecting","terms":{"enabled":true,"text":"Be nice"}}}`)(w, r)
		},
		"GET /prefix/api/v1/customer/session": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer s-1" {
				t.Errorf("status with %q", r.Header.Get("Authorization"))
			}
			reply(200, `{"id":42,"state":"waiting","position":3,"estimated_wait_seconds":90}`)(w, r)
		},
	})
	if _, err := c.Status(context.Background()); err == nil {
		t.Fatal("status before joining succeeded")
	}
	s, err := c.JoinPIN(context.Background(), "123456", applet.ClientInfo{Kind: "applet", Platform: "linux/amd64", Language: "en"})
	if err != nil || s.ID != 42 || s.Terms == nil || s.Terms.Text != "Be nice" || c.Secret() != "s-1" {
		t.Fatalf("join: %+v, %v, secret %q", s, err, c.Secret())
	}
	st, err := c.Status(context.Background())
	if err != nil || !st.Waiting() || st.Position != 3 || st.EstimatedWait().Seconds() != 90 {
		t.Fatalf("status: %+v, %v", st, err)
	}
}

func TestOpenChannelSendsTheForm(t *testing.T) {
	c := fakeHub(t, map[string]http.HandlerFunc{
		"POST /prefix/api/v1/customer/channels/7/sessions": func(w http.ResponseWriter, r *http.Request) {
			var body struct {
				Fields struct {
					CFields    []string `json:"cfields"`
					TrackingID string   `json:"tracking_id"`
				} `json:"fields"`
				Kind string `json:"client_kind"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			if len(body.Fields.CFields) != 6 || body.Fields.CFields[0] != "Bob" || body.Fields.TrackingID != "T-1" || body.Kind != "applet" {
				t.Errorf("channel form %+v", body)
			}
			reply(201, `{"secret":"s-2","session":{"id":43,"state":"waiting"}}`)(w, r)
		},
	})
	s, err := c.OpenChannel(context.Background(), 7, applet.Fields{CFields: [6]string{"Bob"}, TrackingID: "T-1"}, applet.ClientInfo{Kind: "applet"})
	if err != nil || s.ID != 43 || c.Secret() != "s-2" {
		t.Fatalf("open: %+v, %v", s, err)
	}
}

func TestErrorsKeepTheHubsWords(t *testing.T) {
	for _, tc := range []struct {
		status       int
		body         string
		code, errStr string
	}{
		{404, `{"error":{"code":"code_expired","message":"This code has expired. Ask your technician for a new code."}}`,
			"code_expired", "This code has expired. Ask your technician for a new code."},
		{422, `{"error":{"code":"validation_failed","message":"The request has invalid fields.","fields":{"pin":"must be 6 digits","b":"x"}}}`,
			"validation_failed", "The request has invalid fields. (b: x; pin: must be 6 digits)"},
		{409, `{"code":"session_ended","message":"Session 42 has ended.","fields":null}`, // the relay's refusal
			"session_ended", "Session 42 has ended."},
		{502, `<html>bad gateway</html>`, "http_502", "The hub answered 502 Bad Gateway."},
	} {
		c := fakeHub(t, map[string]http.HandlerFunc{"POST /prefix/api/v1/customer/join": reply(tc.status, tc.body)})
		_, err := c.JoinPIN(context.Background(), "000000", applet.ClientInfo{})
		var e *applet.Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code || e.Error() != tc.errStr || !applet.IsCode(err, tc.code) {
			t.Errorf("%d %s: %v (%+v)", tc.status, tc.body, err, e)
		}
	}
}

func TestSpeakers(t *testing.T) {
	var sp applet.Speakers
	for i, tc := range []struct {
		m    applet.Message
		want string
	}{
		{applet.Message{Kind: "chat", SenderKind: "technician", SenderID: 5}, "technician"}, // nobody picked up yet
		{applet.Message{Kind: "system", SenderKind: "system", Body: "Connected to Tina.", Payload: json.RawMessage(`{"event":"session.picked_up"}`)}, "system"},
		{applet.Message{Kind: "collab", SenderKind: "technician", SenderID: 9, Payload: json.RawMessage(`{"action":"joined","technician_id":9}`)}, "technician"},
		{applet.Message{Kind: "chat", SenderKind: "technician", SenderID: 9}, "technician"}, // a collaborator
		{applet.Message{Kind: "chat", SenderKind: "technician", SenderID: 7}, "Tina"},
		{applet.Message{Kind: "chat", SenderKind: "customer"}, "you"},
		{applet.Message{Kind: "system", SenderKind: "system", Body: "Connected to Sam.", Payload: json.RawMessage(`{"event":"session.picked_up"}`)}, "system"},
		{applet.Message{Kind: "chat", SenderKind: "technician", SenderID: 7}, "Tina"},
		{applet.Message{Kind: "chat", SenderKind: "technician", SenderID: 8}, "Sam"},
	} {
		if got := sp.Name(tc.m); got != tc.want {
			t.Errorf("message %d: %q, want %q", i, got, tc.want)
		}
	}
}
