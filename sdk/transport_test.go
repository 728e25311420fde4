package sdk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/plugintest"
)

func launch(t *testing.T, host sdk.Host, args ...string) *sdk.Conn {
	t.Helper()
	if host == nil {
		host = plugintest.NewFakeHost()
	}
	return plugintest.Run(t, plugintest.Self(t, args...), host)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		args []string
		want sdk.Description
	}{
		{nil, sdk.Description{ID: "test", Name: "Test plugin", Version: "1.2.3",
			Capabilities: []string{sdk.CapEvents, sdk.CapHTTP, sdk.CapCodec, sdk.CapRouting},
			Formats:      []string{"upper", "fail"}}},
		{[]string{"minimal"}, sdk.Description{ID: "minimal", Name: "Minimal", Version: "0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.want.ID, func(t *testing.T) {
			conn := launch(t, nil, tt.args...)
			got, err := conn.Describe(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Describe = %+v, want %+v", got, tt.want)
			}
			if err := conn.Ping(); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	conn := launch(t, nil)
	tests := []struct {
		name       string
		settings   string
		wantMsg    string
		wantFields map[string]string
	}{
		{"valid", `{"url":"https://crm.example.com/hook","format":"json","retries":3}`, "", nil},
		{"field errors", `{"url":"not a url","retries":11}`, "invalid settings",
			map[string]string{"url": "must be a URL", "format": "required", "retries": "must be at most 10"}},
		{"unknown setting", `{"url":"https://x.example","format":"xml","colour":"red"}`, "invalid settings",
			map[string]string{"colour": "unknown setting"}},
		{"plugin's own field error", `{"url":"https://x.example","format":"xml","token":"expired"}`,
			"the service refused the token", map[string]string{"token": "expired"}},
		{"plain error", `{"url":"https://x.example","format":"xml","token":"unreachable"}`,
			"cannot reach the service to check the token", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := conn.Configure(ctxT(t), sdk.ConfigureRequest{UnitID: 7, Settings: json.RawMessage(tt.settings)})
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Configure: %v", err)
				}
				return
			}
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Configure error = %v (%T), want *sdk.ConfigError", err, err)
			}
			if ce.Message != tt.wantMsg {
				t.Errorf("Message = %q, want %q", ce.Message, tt.wantMsg)
			}
			if len(ce.Fields) != len(tt.wantFields) || (len(tt.wantFields) > 0 && !reflect.DeepEqual(ce.Fields, tt.wantFields)) {
				t.Errorf("Fields = %v, want %v", ce.Fields, tt.wantFields)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	host := plugintest.NewFakeHost()
	conn := launch(t, host)
	if err := conn.Health(ctxT(t)); err != nil {
		t.Fatalf("Health: %v", err)
	}
	_ = host.KVSet(context.Background(), "health", []byte("CRM token expired"))
	err := conn.Health(ctxT(t))
	if !errors.Is(err, sdk.ErrUnhealthy) || !strings.Contains(err.Error(), "CRM token expired") {
		t.Fatalf("Health = %v, want ErrUnhealthy with the plugin's reason", err)
	}
	host.Fail("KVGet", errors.New("store offline"))
	if err := conn.Health(ctxT(t)); !errors.Is(err, sdk.ErrUnhealthy) || !strings.Contains(err.Error(), "store offline") {
		t.Fatalf("Health = %v, want the host API's error as the reason", err)
	}
}

// A plugin that implements nothing but Describe answers every other call
// as the host expects of a missing capability.
func TestMissingCapabilities(t *testing.T) {
	conn := launch(t, nil, "minimal")
	ctx := ctxT(t)
	if err := conn.Configure(ctx, sdk.ConfigureRequest{Settings: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Errorf("Configure = %v, want nil (no Configurer: nothing to check)", err)
	}
	if err := conn.Health(ctx); err != nil {
		t.Errorf("Health = %v, want nil (no HealthChecker: alive is healthy)", err)
	}
	if _, err := conn.HandleEvent(ctx, sdk.Event{ID: "evt_1", Type: "session.closed"}); !errors.Is(err, sdk.ErrUnimplemented) ||
		!strings.Contains(err.Error(), "sdk.EventHandler") {
		t.Errorf("HandleEvent = %v, want ErrUnimplemented naming sdk.EventHandler", err)
	}
	if _, err := conn.RuleFiles(ctx); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("RuleFiles = %v, want ErrUnimplemented", err)
	}
	if err := conn.Encode(ctx, "upper", strings.NewReader("x"), io.Discard); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("Encode = %v, want ErrUnimplemented", err)
	}
	rec := httptest.NewRecorder()
	conn.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("ServeHTTP status = %d, want 501", rec.Code)
	}
}

func TestProvisionFailureFailsLaunch(t *testing.T) {
	cmd := plugintest.Self(t, "bad-provision")
	sum, err := plugintest.FileSHA256(cmd.Path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sdk.Launch(ctxT(t), sdk.LaunchConfig{Cmd: cmd, Checksum: sum, Host: plugintest.NewFakeHost(), Logger: plugintest.TestLogger(t)})
	if err == nil {
		conn.Kill()
		t.Fatal("Launch succeeded, want the plugin's Provision error")
	}
	if !strings.Contains(err.Error(), "the API key file is missing") {
		t.Errorf("Launch error = %v, want the plugin's reason", err)
	}
}

func TestHandleEventRoundTrip(t *testing.T) {
	conn := launch(t, nil)
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	tests := []struct {
		name string
		e    sdk.Event
	}{
		{"every field", sdk.Event{
			ID: "evt_9001", Seq: 9001, Type: "echo", SessionID: 42, ActorID: 7, At: at,
			Payload: json.RawMessage(`{"state":"closed","by":"technician","names":["a","ü"]}`),
			UnitID:  3, Config: json.RawMessage(`{"url":"https://x.example","secret":"s3cr3t"}`), Attempt: 4,
		}},
		{"zero values", sdk.Event{Type: "echo", Payload: json.RawMessage(`{}`), Config: json.RawMessage(`{}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conn.HandleEvent(ctxT(t), tt.e)
			if err != nil {
				t.Fatal(err)
			}
			var got sdk.Event
			if err := json.Unmarshal([]byte(res.Message), &got); err != nil {
				t.Fatalf("decode the plugin's echo %q: %v", res.Message, err)
			}
			if !reflect.DeepEqual(got, tt.e) {
				t.Errorf("the plugin saw\n%+v\nwant\n%+v", got, tt.e)
			}
		})
	}
}

func TestHandleEventResults(t *testing.T) {
	conn := launch(t, nil)
	tests := []struct {
		typ  string
		want sdk.Result
	}{
		{"log", sdk.Acked()},
		{"retry", sdk.RetryLater(1500*time.Millisecond, "busy")},
		{"permanent", sdk.Failed("bad payload")},
		{"no.such.type", sdk.Failed("unknown event type no.such.type")},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			got, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_1", Type: tt.typ})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Result = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The host's deadline reaches the plugin's context, and a plugin that
// overruns it is a transport failure.
func TestHandleEventDeadline(t *testing.T) {
	conn := launch(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := conn.HandleEvent(ctx, sdk.Event{ID: "evt_1", Type: "deadline"})
	if err != nil {
		t.Fatal(err)
	}
	if left, err := time.ParseDuration(res.Message); err != nil || left <= 0 || left > 20*time.Second {
		t.Errorf("the plugin's deadline was %q away, want within the host's 20 s", res.Message)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = conn.HandleEvent(ctx, sdk.Event{ID: "evt_2", Type: "hang"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("HandleEvent = %v, want a transport error that is context.DeadlineExceeded", err)
	}
	// The plugin is still fine afterwards.
	if _, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_3", Type: "log"}); err != nil {
		t.Fatal(err)
	}
}

func callHost(t *testing.T, conn *sdk.Conn, c hostCall) hostReply {
	t.Helper()
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_host", Type: "host", Payload: payload})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != sdk.Ack {
		t.Fatalf("plugin answered %+v", res)
	}
	var r hostReply
	if err := json.Unmarshal([]byte(res.Message), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHostAPI(t *testing.T) {
	host := plugintest.NewFakeHost()
	conn := launch(t, host)
	at := time.Date(2025, 6, 1, 9, 30, 0, 123000000, time.UTC)
	picked, closed := at.Add(90*time.Second), at.Add(20*time.Minute)
	stored := sdk.Session{
		ID: 42, Kind: "channel", State: "closed", StateLabel: "Closed by technician", ChannelID: 5, TechGroupID: 6,
		Technician: &sdk.Technician{ID: 9, SSOID: "sso-9", Name: "Ada", Email: "ada@example.com", Description: "L2"},
		CFields:    [6]string{"Grace", "ACME", "", "", "", "last"}, TrackingID: "T-1", Platform: "windows", Language: "en",
		CreatedAt: at, PickedUpAt: &picked, ClosedAt: &closed, LastActionAt: &closed,
		WaitingSecs: 90, WorkSecs: 1110, Transmitted: 123456,
		TechSurvey: [10]string{"5", "", "", "", "", "", "", "", "", "fixed"},
		Messages: []sdk.Message{
			{Seq: 1, Kind: "chat", SenderKind: "customer", SenderName: "Grace", Audience: "all", Text: "hello", At: at},
			{Seq: 2, Kind: "note", SenderKind: "technician", SenderID: 9, SenderName: "Ada", Audience: "technicians", Text: "VIP", At: picked},
		},
	}
	host.PutSession(stored)

	t.Run("Session", func(t *testing.T) {
		r := callHost(t, conn, hostCall{Method: "Session", SessionID: 42})
		if r.Err != "" || !reflect.DeepEqual(r.Session, stored) {
			t.Errorf("Session = %+v (err %q), want %+v", r.Session, r.Err, stored)
		}
		r = callHost(t, conn, hostCall{Method: "Session", SessionID: 42, MessagesAfter: 1})
		if len(r.Session.Messages) != 1 || r.Session.Messages[0].Seq != 2 {
			t.Errorf("Session MessagesAfter 1 messages = %+v, want seq 2 only", r.Session.Messages)
		}
		r = callHost(t, conn, hostCall{Method: "Session", SessionID: 404})
		if r.Is != "not_found" || !strings.Contains(r.Err, "session 404") {
			t.Errorf("Session(404) error = %q (is %q), want not_found with the host's text", r.Err, r.Is)
		}
	})
	t.Run("CreatePrivateSession", func(t *testing.T) {
		req := sdk.CreateSession{TechnicianID: 9, CFields: [6]string{"Bob", "", "", "", "", "x"}, TrackingID: "CRM-7"}
		r := callHost(t, conn, hostCall{Method: "CreatePrivateSession", Create: req})
		if r.Err != "" || r.Created.ID == 0 || len(r.Created.PIN) != 6 || r.Created.ExpiresAt.IsZero() {
			t.Fatalf("CreatePrivateSession = %+v, %q", r.Created, r.Err)
		}
		if got := host.SessionsCreated(); len(got) != 1 || got[0] != req {
			t.Errorf("host got %+v, want %+v", got, req)
		}
		host.Fail("CreatePrivateSession", fmt.Errorf("technician 9 is not in a group: %w", sdk.ErrPermission))
		defer host.Fail("CreatePrivateSession", nil)
		r = callHost(t, conn, hostCall{Method: "CreatePrivateSession", Create: req})
		if r.Is != "permission" || !strings.Contains(r.Err, "technician 9 is not in a group") {
			t.Errorf("error = %q (is %q), want permission", r.Err, r.Is)
		}
	})
	t.Run("AddNote", func(t *testing.T) {
		r := callHost(t, conn, hostCall{Method: "AddNote", SessionID: 42, Text: "synced to CRM"})
		if r.Err != "" || !reflect.DeepEqual(host.NotesFor(42), []string{"synced to CRM"}) {
			t.Errorf("AddNote: err %q, notes %q", r.Err, host.NotesFor(42))
		}
		host.Fail("AddNote", errors.New("database is locked"))
		defer host.Fail("AddNote", nil)
		r = callHost(t, conn, hostCall{Method: "AddNote", SessionID: 42, Text: "again"})
		if r.Is != "" || !strings.Contains(r.Err, "database is locked") || !strings.Contains(r.Err, "host AddNote") {
			t.Errorf("error = %q (is %q), want the host's text, no sentinel", r.Err, r.Is)
		}
	})
	t.Run("SetFields", func(t *testing.T) {
		tid := "CRM-42"
		r := callHost(t, conn, hostCall{Method: "SetFields", SessionID: 42, Update: sdk.FieldUpdate{TrackingID: &tid, CFields: map[int]string{2: "Gold"}}})
		s, _ := host.StoredSession(42)
		if r.Err != "" || s.TrackingID != "CRM-42" || s.CFields[2] != "Gold" || s.CFields[1] != "ACME" {
			t.Errorf("SetFields: err %q, session %+v", r.Err, s)
		}
		r = callHost(t, conn, hostCall{Method: "SetFields", SessionID: 42, Update: sdk.FieldUpdate{CFields: map[int]string{3: "kept"}}})
		if s, _ = host.StoredSession(42); r.Err != "" || s.TrackingID != "CRM-42" || s.CFields[3] != "kept" {
			t.Errorf("SetFields without tracking ID: err %q, session %+v (tracking ID must stay)", r.Err, s)
		}
		r = callHost(t, conn, hostCall{Method: "SetFields", SessionID: 42, Update: sdk.FieldUpdate{CFields: map[int]string{9: "x"}}})
		if r.Is != "invalid" {
			t.Errorf("SetFields index 9: error %q (is %q), want invalid", r.Err, r.Is)
		}
		r = callHost(t, conn, hostCall{Method: "SetFields", SessionID: 404, Update: sdk.FieldUpdate{TrackingID: &tid}})
		if r.Is != "not_found" {
			t.Errorf("SetFields on 404: error %q (is %q), want not_found", r.Err, r.Is)
		}
	})
	t.Run("RecordSurvey", func(t *testing.T) {
		sv := sdk.Survey{Kind: "customer", Answers: []string{"5", "great", ""}}
		r := callHost(t, conn, hostCall{Method: "RecordSurvey", SessionID: 42, Survey: sv})
		if got := host.SurveysFor(42); r.Err != "" || len(got) != 1 || !reflect.DeepEqual(got[0], sv) {
			t.Errorf("RecordSurvey: err %q, surveys %+v", r.Err, got)
		}
		host.Fail("RecordSurvey", fmt.Errorf("kind %q: %w", "robot", sdk.ErrInvalid))
		defer host.Fail("RecordSurvey", nil)
		if r = callHost(t, conn, hostCall{Method: "RecordSurvey", SessionID: 42, Survey: sv}); r.Is != "invalid" {
			t.Errorf("error %q (is %q), want invalid", r.Err, r.Is)
		}
	})
	t.Run("KV", func(t *testing.T) {
		if r := callHost(t, conn, hostCall{Method: "KVGet", Key: "cursor"}); r.Err != "" || r.Found || r.Value != nil {
			t.Errorf("KVGet absent = %+v", r)
		}
		if r := callHost(t, conn, hostCall{Method: "KVSet", Key: "cursor", Value: []byte{0, 1, 2, 255}}); r.Err != "" {
			t.Fatal(r.Err)
		}
		if r := callHost(t, conn, hostCall{Method: "KVGet", Key: "cursor"}); !r.Found || !bytes.Equal(r.Value, []byte{0, 1, 2, 255}) {
			t.Errorf("KVGet = %+v", r)
		}
		if r := callHost(t, conn, hostCall{Method: "KVSet", Key: "empty", Value: []byte{}}); r.Err != "" {
			t.Fatal(r.Err)
		}
		if r := callHost(t, conn, hostCall{Method: "KVGet", Key: "empty"}); !r.Found || len(r.Value) != 0 {
			t.Errorf("KVGet of an empty value = %+v, want found", r)
		}
		for _, key := range []string{"cursor", "cursor"} { // twice: absent is not an error
			if r := callHost(t, conn, hostCall{Method: "KVDelete", Key: key}); r.Err != "" {
				t.Fatal(r.Err)
			}
		}
		if r := callHost(t, conn, hostCall{Method: "KVGet", Key: "cursor"}); r.Found {
			t.Errorf("KVGet after delete = %+v", r)
		}
		for _, m := range []string{"KVGet", "KVSet", "KVDelete"} {
			host.Fail(m, fmt.Errorf("key space of plugin %q: %w", "test", sdk.ErrPermission))
			if r := callHost(t, conn, hostCall{Method: m, Key: "k"}); r.Is != "permission" {
				t.Errorf("%s error %q (is %q), want permission", m, r.Err, r.Is)
			}
			host.Fail(m, nil)
		}
	})
	t.Run("Metric", func(t *testing.T) {
		m := sdk.Metric{Name: "crm_calls", Kind: "counter", Value: 1.5, Labels: map[string]string{"result": "ok"}}
		r := callHost(t, conn, hostCall{Method: "Metric", Metric: m})
		if got := host.MetricsEmitted(); r.Err != "" || len(got) != 1 || !reflect.DeepEqual(got[0], m) {
			t.Errorf("Metric: err %q, metrics %+v", r.Err, got)
		}
		host.Fail("Metric", fmt.Errorf("name %q: %w", "Bad-Name", sdk.ErrInvalid))
		defer host.Fail("Metric", nil)
		if r = callHost(t, conn, hostCall{Method: "Metric", Metric: m}); r.Is != "invalid" {
			t.Errorf("error %q (is %q), want invalid", r.Err, r.Is)
		}
	})
}

func TestRuleFiles(t *testing.T) {
	conn := launch(t, nil)
	files, err := conn.RuleFiles(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Name != "vip.expr" || !strings.Contains(string(files[0].Content), `"VIP"`) ||
		files[1].Name != "empty.expr" || len(files[1].Content) != 0 {
		t.Errorf("RuleFiles = %+v", files)
	}
}

func TestHTTPHeadAndHeaders(t *testing.T) {
	conn := launch(t, nil)
	srv := httptest.NewServer(conn)
	defer srv.Close()

	req, _ := http.NewRequest("PUT", srv.URL+"/inspect?q=a%20b&x=1", strings.NewReader("hello plugin"))
	req.Header.Add("X-Test", "one")
	req.Header.Add("X-Test", "two")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Plugin") != "test" ||
		!reflect.DeepEqual(resp.Header.Values("X-Multi"), []string{"one", "two"}) {
		t.Errorf("response %d %v", resp.StatusCode, resp.Header)
	}
	var got inspected
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := inspected{Method: "PUT", RequestURI: "/inspect?q=a%20b&x=1", Path: "/inspect", Query: "a b",
		XTest: []string{"one", "two"}, Host: req.URL.Host, ContentLength: 12, Body: "hello plugin"}
	if got.RemoteAddr == "" || !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("RemoteAddr = %q, want the client's", got.RemoteAddr)
	}
	got.RemoteAddr = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the plugin saw %+v\nwant %+v", got, want)
	}

	resp2, err := srv.Client().Get(srv.URL + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere = %d, want the plugin's 404", resp2.StatusCode)
	}
}

// TestHTTPStreamsBothWays sends a large chunked body and reads the echo
// while still sending: the first half must come back before the second
// half is sent, which only works if neither side buffers a whole body.
func TestHTTPStreamsBothWays(t *testing.T) {
	conn := launch(t, nil)
	srv := httptest.NewServer(conn)
	defer srv.Close()

	const half = 4 << 20
	body := make([]byte, 2*half)
	for i := range body {
		body[i] = byte(i * 7 % 251)
	}
	pr, pw := io.Pipe()
	req, _ := http.NewRequestWithContext(ctxT(t), "POST", srv.URL+"/echo", pr) // unknown length: chunked
	go func() {
		_, _ = pw.Write(body[:half])
	}()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, 2*half)
	if _, err := io.ReadFull(resp.Body, got[:half]); err != nil {
		t.Fatalf("read the first half's echo before sending the second: %v", err)
	}
	go func() {
		_, _ = pw.Write(body[half:])
		_ = pw.Close()
	}()
	if _, err := io.ReadFull(resp.Body, got[half:]); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(resp.Body); len(rest) != 0 {
		t.Errorf("%d bytes more than sent", len(rest))
	}
	if sha256.Sum256(got) != sha256.Sum256(body) {
		t.Error("the echo differs from the body sent")
	}
}

func TestHTTPLargeDownload(t *testing.T) {
	conn := launch(t, nil)
	srv := httptest.NewServer(conn)
	defer srv.Close()
	const n = 16<<20 + 123
	resp, err := srv.Client().Get(srv.URL + "/big?n=" + strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil || got != n {
		t.Fatalf("read %d bytes (%v), want %d", got, err, n)
	}
}

func TestEncode(t *testing.T) {
	conn := launch(t, nil)
	input := bytes.Repeat([]byte("frame of a recording; "), 250_000) // ~5.5 MB
	var out bytes.Buffer
	if err := conn.Encode(ctxT(t), "upper", bytes.NewReader(input), &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), bytes.ToUpper(input)) {
		t.Errorf("output of %d bytes differs from the expected %d", out.Len(), len(input))
	}

	tests := []struct {
		name    string
		format  string
		in      io.Reader
		wantIs  error
		wantMsg string
	}{
		{"unknown format", "webm", strings.NewReader("x"), sdk.ErrInvalid, `format "webm" is not one of`},
		{"codec error", "fail", strings.NewReader("x"), nil, "the codec broke on the first frame"},
		{"input error", "upper", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("disk gone"))), nil, "read input: disk gone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := conn.Encode(ctxT(t), tt.format, tt.in, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Errorf("Encode = %v, want %q (is %v)", err, tt.wantMsg, tt.wantIs)
			}
		})
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	cmd := plugintest.Self(t)
	wrong := sha256.Sum256([]byte("not the binary"))
	conn, err := sdk.Launch(ctxT(t), sdk.LaunchConfig{Cmd: cmd, Checksum: wrong[:], Host: plugintest.NewFakeHost(), Logger: plugintest.TestLogger(t)})
	if err == nil {
		conn.Kill()
		t.Fatal("Launch started a binary whose checksum does not match")
	}
	if !errors.Is(err, sdk.ErrChecksumMismatch) || !errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		t.Errorf("error %v does not wrap ErrChecksumMismatch and go-plugin's ErrChecksumsDoNotMatch", err)
	}
	t.Logf("Launch error: %v", err)
	if !strings.Contains(err.Error(), "checksum does not match the catalogue") || !strings.Contains(err.Error(), cmd.Path) {
		t.Errorf("error %q does not say clearly which binary fails the catalogue's checksum", err)
	}
	if cmd.Process != nil {
		t.Errorf("the process was started (pid %d)", cmd.Process.Pid)
	}

	_, err = sdk.Launch(ctxT(t), sdk.LaunchConfig{Cmd: plugintest.Self(t), Host: plugintest.NewFakeHost()})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("Launch without a checksum = %v, want a refusal", err)
	}
}

func TestPluginDiesMidCall(t *testing.T) {
	for _, typ := range []string{"panic", "exit"} {
		t.Run(typ, func(t *testing.T) {
			conn := launch(t, nil)
			_, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_1", Type: typ})
			if err == nil {
				t.Fatal("HandleEvent returned no error from a plugin that died")
			}
			select {
			case <-conn.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Done not closed 10 s after the plugin died")
			}
			if !conn.Exited() {
				t.Error("Exited() = false after Done")
			}
			if err := conn.Ping(); err == nil {
				t.Error("Ping succeeded on a dead plugin")
			}
			if _, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_2", Type: "log"}); err == nil {
				t.Error("HandleEvent succeeded on a dead plugin")
			}
		})
	}
}

func TestKill(t *testing.T) {
	cmd := plugintest.Self(t)
	conn := plugintest.Run(t, cmd, plugintest.NewFakeHost())
	conn.Kill()
	select {
	case <-conn.Done():
	default:
		t.Fatal("Done still open after Kill returned")
	}
	if !conn.Exited() || cmd.ProcessState == nil {
		t.Errorf("Exited() = %v, process state %v after Kill", conn.Exited(), cmd.ProcessState)
	}
}

// The plugin's log lines reach the host's logger as structured entries
// under the plugin's name.
func TestPluginLogReachesHost(t *testing.T) {
	var buf syncBuffer
	cmd := plugintest.Self(t)
	sum, err := plugintest.FileSHA256(cmd.Path)
	if err != nil {
		t.Fatal(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "hub", Level: hclog.Info, Output: &buf})
	conn, err := sdk.Launch(ctxT(t), sdk.LaunchConfig{Cmd: cmd, Checksum: sum, Host: plugintest.NewFakeHost(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.HandleEvent(ctxT(t), sdk.Event{ID: "evt_77", Type: "log"}); err != nil {
		t.Fatal(err)
	}
	conn.Kill() // waits for the log to be read to its end
	out := buf.String()
	if !strings.Contains(out, "logged from the plugin") || !strings.Contains(out, "event_id=evt_77") || !strings.Contains(out, "[INFO]") {
		t.Errorf("host log lacks the plugin's line:\n%s", out)
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
