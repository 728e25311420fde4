package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tetherhq/tether/core/applet"
)

func TestAppletRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pin", "123456"}, "--server is required"},
		{[]string{"--server", "ftp://hub", "--pin", "123456"}, "want the hub's http:// or https:// URL"},
		{[]string{"--server", "http://hub"}, "give --pin"},
		{[]string{"--server", "http://hub", "--pin", "123456", "--channel", "2"}, "not both"},
		{[]string{"--server", "http://hub", "--pin", "123456", "--name", "Bob"}, "go with --channel"},
		{[]string{"--server", "http://hub", "--channel", "2", "--field", "6=x"}, `--field "6=x": want N=value with N from 1 to 5`},
		{[]string{"--server", "http://hub", "--channel", "2", "--field", "x"}, `--field "x"`},
		{[]string{"--server", "http://hub", "--channel", "-1"}, "--channel must be a channel ID"},
		{[]string{"--server", "http://hub", "--pin", "123456", "extra"}, "unknown command"},
	} {
		inv := invoke(t, nil, append([]string{"applet"}, tc.args...)...)
		if inv.code != 1 || !strings.HasPrefix(inv.stderr, "Error: ") || !strings.Contains(inv.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, inv.code, inv.stderr, tc.want)
		}
	}
}

// The hub's refusal reaches the customer in its own words, on one line.
func TestAppletPrintsTheHubsMessage(t *testing.T) {
	var got map[string]any
	hub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/customer/join" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got) //nolint:errcheck // checked below
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"code_expired","message":"This code has expired. Ask your technician for a new code."}}`)
	}))
	defer hub.Close()
	inv := invoke(t, map[string]string{"LANG": "fr_CA.UTF-8"}, "applet", "--server", hub.URL, "--pin", " 123456 ")
	if inv.code != 1 || inv.stderr != "Error: This code has expired. Ask your technician for a new code.\n" || inv.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", inv.code, inv.stdout, inv.stderr)
	}
	if got["pin"] != "123456" || got["client_kind"] != "applet" || got["language"] != "fr-CA" || got["platform"] == "" || len(got) != 4 {
		t.Fatalf("join body %v", got)
	}
}

func TestAppletSaysWhenTheHubIsUnreachable(t *testing.T) {
	hub := httptest.NewServer(http.NotFoundHandler())
	addr := hub.URL
	hub.Close()
	inv := invoke(t, nil, "applet", "--server", addr, "--pin", "123456")
	if inv.code != 1 || !strings.HasPrefix(inv.stderr, "Error: cannot reach the hub at "+addr+": ") {
		t.Fatalf("exit %d, stderr %q", inv.code, inv.stderr)
	}
}

func TestAppletHelpNamesEveryFlag(t *testing.T) {
	var out bytes.Buffer
	a := newApp(func(string) (string, bool) { return "", false }, &out, &out)
	if code := a.execute(context.Background(), []string{"applet", "--help"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"--server", "--pin", "--channel", "--name", "--field", "--tracking-id", "--language", "--yes", "TETHER_PIN"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("applet --help lacks %s", f)
		}
	}
}

func TestAppletFormFields(t *testing.T) {
	o := appletOptions{Name: "Bob", Fields: []string{"1=ACME", "5=a=b"}, TrackingID: "T-1"}
	f, err := o.formFields()
	if err != nil {
		t.Fatal(err)
	}
	want := applet.Fields{CFields: [6]string{"Bob", "ACME", "", "", "", "a=b"}, TrackingID: "T-1"}
	if f != want {
		t.Fatalf("fields %+v, want %+v", f, want)
	}
}

func TestLocaleLanguage(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"LANG": "fr_CA.UTF-8"}, "fr-CA"},
		{map[string]string{"LANG": "de_DE@euro"}, "de-DE"},
		{map[string]string{"LC_ALL": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, "en-GB"},
		{map[string]string{"LANG": "C.UTF-8"}, ""},
		{map[string]string{"LANG": "POSIX"}, ""},
		{nil, ""},
	} {
		got := localeLanguage(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestAppletPrintsMessagesAsLines(t *testing.T) {
	var out bytes.Buffer
	r := &appletRun{out: &lineWriter{w: &out}}
	var sp applet.Speakers
	for _, m := range []applet.Message{
		{Seq: 1, Kind: "system", SenderKind: "system", Body: "Customer joined with the code."},
		{Seq: 2, Kind: "system", SenderKind: "system", Body: "Connected to Tina.", Payload: json.RawMessage(`{"event":"session.picked_up","state":"active"}`)},
		{Seq: 3, Kind: "chat", SenderKind: "customer", Body: "hello"},
		{Seq: 4, Kind: "chat", SenderKind: "technician", SenderID: 7, Body: "hi\nhow can I help?"},
		{Seq: 5, Kind: "collab", SenderKind: "technician", SenderID: 9, Body: "A collaborating technician joined the session.", Payload: json.RawMessage(`{"action":"joined","technician_id":9}`)},
		{Seq: 6, Kind: "chat", SenderKind: "technician", SenderID: 9, Body: "I am here too"},
		{Seq: 7, Kind: "url", SenderKind: "technician", SenderID: 7, Body: "https://example.com/driver"},
		{Seq: 8, Kind: "chat_toggle", SenderKind: "technician", SenderID: 7, Payload: json.RawMessage(`{"enabled":false}`)},
		{Seq: 9, Kind: "chat", SenderKind: "technician", SenderID: 7, Body: "\x1b[2Jgotcha"},
		{Seq: 10, Kind: "file_offer", SenderKind: "technician", SenderID: 7, Body: "driver.zip", Payload: json.RawMessage(`{"name":"driver.zip","size":130000}`)},
		{Seq: 11, Kind: "file_done", SenderKind: "system", Body: "driver.zip"},
	} {
		r.printMessage(&sp, m)
	}
	want := `[system] Customer joined with the code.
[system] Connected to Tina.
[you] hello
[Tina] hi
[Tina] how can I help?
[system] A collaborating technician joined the session.
[technician] I am here too
[Tina] sent a link: https://example.com/driver
[system] chat turned off
[Tina] ?[2Jgotcha
[Tina] offers the file driver.zip (130000 bytes); this applet cannot receive files yet
`
	if out.String() != want {
		t.Fatalf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

func TestWaitingLine(t *testing.T) {
	if got := waitingLine(applet.Session{State: "waiting", Position: 2, EstimatedWaitSeconds: 89.6}); got != "waiting: position 2, estimated wait 1m30s" {
		t.Fatal(got)
	}
	if got := waitingLine(applet.Session{State: "waiting", Position: 1}); got != "waiting: position 1" {
		t.Fatal(got)
	}
}
