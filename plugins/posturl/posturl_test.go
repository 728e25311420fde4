package posturl

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetherhq/tether/sdk"
	sdkmanifest "github.com/tetherhq/tether/sdk/manifest"
	"github.com/tetherhq/tether/sdk/plugintest"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var (
	t0     = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	pickup = t0.Add(95 * time.Second)
	closed = t0.Add(31 * time.Minute)
	lastAt = t0.Add(30 * time.Minute)
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// seedSession is a realistic closed session.
func seedSession() sdk.Session {
	return sdk.Session{
		ID: 4711, Kind: "channel", State: "closed", StateLabel: "Closed by technician",
		ChannelID: 3, TechGroupID: 12,
		Technician: &sdk.Technician{ID: 42, SSOID: "jdupont", Name: "Jeanne Dupont",
			Email: "jeanne.dupont@example.com", Description: "Niveau 2 <réseau> & VPN"},
		CFields:    [6]string{"Marc Lévêque", "ACME SA", "+33 1 23 45 67 89", "", "Printer \"HP 4000\"", ""},
		TrackingID: "CASE-00123",
		Platform:   "Windows 11",
		Language:   "fr",
		CreatedAt:  t0, PickedUpAt: &pickup, ClosedAt: &closed, LastActionAt: &lastAt,
		WaitingSecs: 95, WorkSecs: 1712, Transmitted: 1048576,
		TechSurvey: [10]string{"Résolu", "5", "", "", "", "", "", "", "", ""},
		Messages: []sdk.Message{
			{Seq: 1, Kind: "system", SenderKind: "system", Text: "Session picked up by Jeanne Dupont", At: pickup},
			{Seq: 2, Kind: "chat", SenderKind: "technician", SenderID: 42, SenderName: "Jeanne Dupont", Audience: "all", Text: "Bonjour, que se passe-t-il ?", At: at(2 * time.Minute)},
			{Seq: 3, Kind: "chat", SenderKind: "customer", SenderName: "Marc Lévêque", Audience: "all", Text: "L'imprimante <HP> n'imprime plus & clignote", At: at(3 * time.Minute)},
			{Seq: 4, Kind: "note", SenderKind: "technician", SenderID: 42, SenderName: "Jeanne Dupont", Audience: "technicians", Text: "Pilote obsolète", At: at(20 * time.Minute)},
			{Seq: 5, Kind: "system", SenderKind: "system", Text: "Session closed by technician", At: closed},
		},
	}
}

type received struct {
	Method string
	Header http.Header
	Body   []byte
	User   string
	Pass   string
	HasBA  bool
}

type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		rc.mu.Lock()
		rc.got = append(rc.got, received{r.Method, r.Header.Clone(), b, u, p, ok})
		rc.mu.Unlock()
		if rc.respond != nil {
			rc.respond(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func newPlugin(t *testing.T, host sdk.Host) *Plugin {
	t.Helper()
	p := New()
	p.now = func() time.Time { return closed.Add(5 * time.Second) }
	if err := p.Provision(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	return p
}

func cfgJSON(t *testing.T, m map[string]any) json.RawMessage {
	t.Helper()
	if _, ok := m["allow_private_targets"]; !ok {
		m["allow_private_targets"] = true // httptest receivers are on loopback
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func event(typ string, seq int64, cfg json.RawMessage) sdk.Event {
	return sdk.Event{ID: fmt.Sprintf("evt_%d", seq), Seq: seq, Type: typ, SessionID: 4711,
		ActorID: 42, At: closed, Payload: json.RawMessage(`{}`), UnitID: 12, Config: cfg, Attempt: 1}
}

// want is every P2U-2 field of seedSession in its XML/form text form.
var want = map[string]string{
	"sessionid": "4711", "techid": "42", "techssoid": "jdupont", "techname": "Jeanne Dupont",
	"techemail": "jeanne.dupont@example.com", "techdescr": "Niveau 2 <réseau> & VPN",
	"cfield0": "Marc Lévêque", "cfield1": "ACME SA", "cfield2": "+33 1 23 45 67 89", "cfield3": "",
	"cfield4": "Printer \"HP 4000\"", "cfield5": "", "tracking0": "CASE-00123",
	"chatlog": "[09:28:28] Session picked up by Jeanne Dupont\n" +
		"[09:28:53] Jeanne Dupont: Bonjour, que se passe-t-il ?\n" +
		"[09:29:53] Marc Lévêque: L'imprimante <HP> n'imprime plus & clignote\n" +
		"[09:57:53] Session closed by technician",
	"notes":       "[09:46:53] Jeanne Dupont: Pilote obsolète",
	"waitingtime": "95", "pickuptime": "2025-03-14 09:28:28", "closingtime": "2025-03-14 09:57:53",
	"worktime": "1712", "lastactiontime": "2025-03-14 09:56:53", "transmitted": "1048576",
	"platform": "Windows 11", "tsurvey0": "Résolu", "tsurvey1": "5",
	"tsurvey2": "", "tsurvey3": "", "tsurvey4": "", "tsurvey5": "", "tsurvey6": "", "tsurvey7": "", "tsurvey8": "", "tsurvey9": "",
}

func parseXML(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var doc struct {
		XMLName xml.Name
		Fields  []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("xml: %v\n%s", err, body)
	}
	if doc.XMLName.Local != XMLRoot {
		t.Fatalf("root = %q", doc.XMLName.Local)
	}
	m := map[string]string{}
	for _, f := range doc.Fields {
		m[f.XMLName.Local] = f.Value
	}
	return m
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		format, ctype, golden string
	}{
		{"xml", "application/xml; charset=utf-8", "example.xml"},
		{"form", "application/x-www-form-urlencoded", "example.form"},
		{"json", "application/json", "example.json"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			host := plugintest.NewFakeHost()
			host.PutSession(seedSession())
			rc := newReceiver(t, nil)
			p := newPlugin(t, host)
			res := p.HandleEvent(context.Background(), event(EventClosed, 17, cfgJSON(t, map[string]any{
				"end_url": rc.URL + "/tether/end", "format": tc.format})))
			if res.Outcome != sdk.Ack {
				t.Fatalf("result = %+v", res)
			}
			reqs := rc.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost {
				t.Errorf("method = %s", r.Method)
			}
			if got := r.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("content-type = %q", got)
			}
			if r.Header.Get("webhook-id") != "evt_17" || r.Header.Get("X-Tether-Event-Id") != "evt_17" {
				t.Errorf("event id headers = %v", r.Header)
			}
			got := map[string]string{}
			switch tc.format {
			case "xml":
				got = parseXML(t, r.Body)
				if !strings.HasPrefix(string(r.Body), `<?xml version="1.0" encoding="UTF-8"?>`) {
					t.Errorf("no XML declaration")
				}
			case "form":
				v, err := url.ParseQuery(string(r.Body))
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range Fields {
					if _, ok := v[f.Form]; !ok {
						t.Errorf("form field %s missing", f.Form)
					}
					got[f.XML] = v.Get(f.Form)
				}
			case "json":
				var m map[string]any
				if err := json.Unmarshal(r.Body, &m); err != nil {
					t.Fatal(err)
				}
				if m["event_id"] != "evt_17" || m["event"] != EventClosed {
					t.Errorf("event_id/event = %v/%v", m["event_id"], m["event"])
				}
				for _, f := range Fields {
					v, ok := m[f.JSON]
					if !ok {
						t.Errorf("json key %s missing", f.JSON)
					}
					switch x := v.(type) {
					case float64:
						got[f.XML] = fmt.Sprint(int64(x))
					case string:
						if ts, err := time.Parse(time.RFC3339, x); err == nil {
							x = ts.Format(TimeLayout)
						}
						got[f.XML] = x
					}
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d fields, want %d", len(got), len(want))
			}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %q, want %q", k, got[k], w)
				}
			}
			golden(t, tc.golden, r.Body)
		})
	}
}

func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(w) != string(body) {
		t.Errorf("body differs from %s (go test -update):\n%s", path, body)
	}
}

func TestBasicAuthFromURLNeverShown(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusInternalServerError, http.StatusForbidden} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			host := plugintest.NewFakeHost()
			host.PutSession(seedSession())
			rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
			u, _ := url.Parse(rc.URL + "/in")
			u.User = url.UserPassword("crm-user", "s3cr3t-pa55")
			p := newPlugin(t, host)
			res := p.HandleEvent(context.Background(), event(EventClosed, 2, cfgJSON(t, map[string]any{"end_url": u.String()})))
			r := rc.requests()[0]
			if !r.HasBA || r.User != "crm-user" || r.Pass != "s3cr3t-pa55" {
				t.Errorf("basic auth = %v %q %q", r.HasBA, r.User, r.Pass)
			}
			if res.Message == "" || strings.Contains(res.Message, "s3cr3t") || strings.Contains(res.Message, "crm-user") {
				t.Errorf("message = %q", res.Message)
			}
		})
	}
}

func TestChatSincePreviousPost(t *testing.T) {
	for _, noChat := range []bool{false, true} {
		t.Run(fmt.Sprintf("no_chat_text=%v", noChat), func(t *testing.T) {
			host := plugintest.NewFakeHost()
			s := seedSession()
			all := s.Messages
			s.Messages, s.ClosedAt = all[:3], nil
			host.PutSession(s)
			rc := newReceiver(t, nil)
			p := newPlugin(t, host)
			cfg := cfgJSON(t, map[string]any{"start_url": rc.URL, "end_url": rc.URL, "no_chat_text": noChat})
			if res := p.HandleEvent(context.Background(), event(EventPickedUp, 1, cfg)); res.Outcome != sdk.Ack {
				t.Fatal(res)
			}
			s.Messages, s.ClosedAt = all, &closed
			host.PutSession(s)
			if res := p.HandleEvent(context.Background(), event(EventClosed, 2, cfg)); res.Outcome != sdk.Ack {
				t.Fatal(res)
			}
			reqs := rc.requests()
			first, second := parseXML(t, reqs[0].Body), parseXML(t, reqs[1].Body)
			wantFirst := "[09:28:28] Session picked up by Jeanne Dupont\n" +
				"[09:28:53] Jeanne Dupont: Bonjour, que se passe-t-il ?\n" +
				"[09:29:53] Marc Lévêque: L'imprimante <HP> n'imprime plus & clignote"
			if noChat {
				wantFirst = "[09:28:28] Session picked up by Jeanne Dupont"
			}
			if first["chatlog"] != wantFirst {
				t.Errorf("first chatlog = %q", first["chatlog"])
			}
			if first["closingtime"] != "" || first["notes"] != "" {
				t.Errorf("first closingtime/notes = %q/%q", first["closingtime"], first["notes"])
			}
			if second["chatlog"] != "[09:57:53] Session closed by technician" {
				t.Errorf("second chatlog = %q", second["chatlog"])
			}
			if second["notes"] != "[09:46:53] Jeanne Dupont: Pilote obsolète" {
				t.Errorf("second notes = %q", second["notes"])
			}
		})
	}
}

func TestChatPositionKeptOnFailure(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	fail := true
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		if fail {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	p := newPlugin(t, host)
	cfg := cfgJSON(t, map[string]any{"end_url": rc.URL})
	if res := p.HandleEvent(context.Background(), event(EventClosed, 2, cfg)); res.Outcome != sdk.Retry {
		t.Fatal(res)
	}
	fail = false
	if res := p.HandleEvent(context.Background(), event(EventClosed, 2, cfg)); res.Outcome != sdk.Ack {
		t.Fatal(res)
	}
	reqs := rc.requests()
	if a, b := parseXML(t, reqs[0].Body)["chatlog"], parseXML(t, reqs[1].Body)["chatlog"]; a != b || a != want["chatlog"] {
		t.Errorf("retry chatlog = %q, first = %q", b, a)
	}
}

func TestStartPostedOnceAcrossRepickups(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	rc := newReceiver(t, nil)
	p := newPlugin(t, host)
	cfg := cfgJSON(t, map[string]any{"start_url": rc.URL})
	for i := range 3 { // picked up, transferred, picked up again...
		if res := p.HandleEvent(context.Background(), event(EventPickedUp, int64(i+1), cfg)); res.Outcome != sdk.Ack {
			t.Fatal(res)
		}
	}
	if n := len(rc.requests()); n != 1 {
		t.Errorf("%d start posts, want 1", n)
	}
	// An empty end URL posts nothing.
	if res := p.HandleEvent(context.Background(), event(EventClosed, 9, cfg)); res.Outcome != sdk.Ack || len(rc.requests()) != 1 {
		t.Errorf("end without URL: %+v, %d posts", res, len(rc.requests()))
	}
}

func TestResponses(t *testing.T) {
	httpDate := closed.Add(5*time.Second + 2*time.Minute).Format(http.TimeFormat)
	for _, tc := range []struct {
		name      string
		respond   func(w http.ResponseWriter, r *http.Request)
		outcome   sdk.Outcome
		after     time.Duration
		msg       string
		stillPost bool // a second event posts again
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {}, sdk.Ack, 0, "200", true},
		{"410 stops", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(410) }, sdk.Ack, 0, "410 Gone", false},
		{"429 seconds", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "37")
			w.WriteHeader(429)
		}, sdk.Retry, 37 * time.Second, "429", true},
		{"429 date", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", httpDate)
			w.WriteHeader(429)
		}, sdk.Retry, 2 * time.Minute, "429", true},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, sdk.Retry, 0, "500", true},
		{"503 retry-after", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(503)
		}, sdk.Retry, 2 * time.Minute, "503", true},
		{"302 not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://bob:hunter2@elsewhere.example/new", http.StatusFound)
		}, sdk.Permanent, 0, "redirects are not followed", true},
		{"404", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, sdk.Permanent, 0, "404", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := plugintest.NewFakeHost()
			host.PutSession(seedSession())
			rc := newReceiver(t, tc.respond)
			p := newPlugin(t, host)
			cfg := cfgJSON(t, map[string]any{"end_url": rc.URL + "/hook"})
			res := p.HandleEvent(context.Background(), event(EventClosed, 5, cfg))
			if res.Outcome != tc.outcome || res.RetryAfter != tc.after || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("result = %+v, want %v after %v containing %q", res, tc.outcome, tc.after, tc.msg)
			}
			if strings.Contains(res.Message, "hunter2") {
				t.Errorf("message shows credentials: %q", res.Message)
			}
			p.HandleEvent(context.Background(), event(EventTimedOut, 6, cfg))
			if n := len(rc.requests()); (n == 2) != tc.stillPost {
				t.Errorf("%d posts after a second event", n)
			}
			if !tc.stillPost {
				// A new URL setting posts again.
				cfg2 := cfgJSON(t, map[string]any{"end_url": rc.URL + "/hook2"})
				p.HandleEvent(context.Background(), event(EventClosed, 7, cfg2))
				if n := len(rc.requests()); n != 2 {
					t.Errorf("%d posts after changing the URL", n)
				}
			}
		})
	}
}

func TestPrivateTargetRefused(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	rc := newReceiver(t, nil)
	p := newPlugin(t, host)
	for _, u := range []string{rc.URL, strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)} {
		res := p.HandleEvent(context.Background(), event(EventClosed, 3, cfgJSON(t, map[string]any{
			"end_url": u, "allow_private_targets": false})))
		if res.Outcome != sdk.Permanent || !strings.Contains(res.Message, "loopback") || !strings.Contains(res.Message, "allow_private_targets") {
			t.Errorf("%s: result = %+v", u, res)
		}
	}
	if n := len(rc.requests()); n != 0 {
		t.Errorf("%d requests reached a private target", n)
	}
}

func TestPrivateKind(t *testing.T) {
	for _, tc := range []struct{ addr, kind string }{
		{"127.0.0.1", "loopback"}, {"::1", "loopback"}, {"10.1.2.3", "private"}, {"172.16.0.1", "private"},
		{"192.168.1.1", "private"}, {"fd00::1", "private"}, {"169.254.169.254", "link-local"},
		{"fe80::1", "link-local"}, {"0.0.0.0", "unspecified"}, {"::", "unspecified"}, {"224.0.0.1", "link-local"},
		{"239.1.2.3", "multicast"}, {"::ffff:127.0.0.1", "loopback"}, {"::ffff:10.0.0.1", "private"},
		{"93.184.216.34", ""}, {"2606:2800:220:1::1", ""}, {"172.32.0.1", ""},
	} {
		if got := privateKind(netip.MustParseAddr(tc.addr)); got != tc.kind {
			t.Errorf("%s: %q, want %q", tc.addr, got, tc.kind)
		}
	}
}

// verifyStandardWebhook is an independent implementation of the Standard
// Webhooks verification a receiver would run.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	signed := h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	expected := mac.Sum(nil)
	for _, sig := range strings.Split(h.Get("webhook-signature"), " ") {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, expected) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func TestSignature(t *testing.T) {
	oldSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("old-secret-0123456789abcdef"))
	newSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("new-secret-fedcba9876543210"))
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("someone else"))
	for _, secrets := range []string{oldSecret, oldSecret + " " + newSecret} {
		host := plugintest.NewFakeHost()
		host.PutSession(seedSession())
		rc := newReceiver(t, nil)
		p := newPlugin(t, host)
		res := p.HandleEvent(context.Background(), event(EventClosed, 8, cfgJSON(t, map[string]any{
			"end_url": rc.URL, "format": "json", "signing_secrets": secrets})))
		if res.Outcome != sdk.Ack {
			t.Fatal(res)
		}
		r := rc.requests()[0]
		if r.Header.Get("webhook-id") != "evt_8" || r.Header.Get("webhook-timestamp") != fmt.Sprint(p.now().Unix()) {
			t.Errorf("headers = %v", r.Header)
		}
		for _, s := range strings.Fields(secrets) {
			if err := verifyStandardWebhook(s, r.Header, r.Body); err != nil {
				t.Errorf("secret %s: %v", s[:10], err)
			}
		}
		if err := verifyStandardWebhook(other, r.Header, r.Body); err == nil {
			t.Errorf("a foreign secret verified")
		}
		if strings.Contains(res.Message, "whsec_") {
			t.Errorf("message = %q", res.Message)
		}
	}
}

func TestUnsignedHasNoSignature(t *testing.T) {
	h := webhookHeaders("evt_1", t0, []byte("x"), nil)
	if h["webhook-id"] != "evt_1" || h["webhook-signature"] != "" {
		t.Errorf("headers = %v", h)
	}
}

func TestTimeoutRetries(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	p := newPlugin(t, host)
	res := p.HandleEvent(context.Background(), event(EventClosed, 4, cfgJSON(t, map[string]any{
		"end_url": rc.URL, "timeout_seconds": 1})))
	if res.Outcome != sdk.Retry || !strings.Contains(res.Message, "1 s") {
		t.Errorf("result = %+v", res)
	}
}

func TestNetworkErrorRetries(t *testing.T) {
	rc := newReceiver(t, nil)
	dead := rc.URL
	rc.Close()
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	p := newPlugin(t, host)
	res := p.HandleEvent(context.Background(), event(EventClosed, 4, cfgJSON(t, map[string]any{"end_url": dead})))
	if res.Outcome != sdk.Retry {
		t.Errorf("result = %+v", res)
	}
}

func TestConfigure(t *testing.T) {
	good := "whsec_" + base64.StdEncoding.EncodeToString([]byte("k"))
	for _, tc := range []struct {
		name     string
		settings string
		field    string // "" = valid
	}{
		{"empty", `{}`, ""},
		{"full", `{"start_url":"https://u:p@crm.example/start","end_url":"http://crm.example/end","format":"form","no_chat_text":true,"timeout_seconds":30,"signing_secrets":"` + good + ` ` + good + `","allow_private_targets":false}`, ""},
		{"bad format", `{"format":"soap"}`, "format"},
		{"not a URL", `{"end_url":"not a url"}`, "end_url"},
		{"ftp URL", `{"start_url":"ftp://crm.example/x"}`, "start_url"},
		{"timeout too long", `{"timeout_seconds":61}`, "timeout_seconds"},
		{"secret without prefix", `{"signing_secrets":"abc"}`, "signing_secrets"},
		{"secret not base64", `{"signing_secrets":"whsec_***"}`, "signing_secrets"},
		{"three secrets", `{"signing_secrets":"` + good + ` ` + good + ` ` + good + `"}`, "signing_secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().Configure(context.Background(), sdk.ConfigureRequest{UnitID: 12, Settings: json.RawMessage(tc.settings)})
			if tc.field == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *sdk.ConfigError", err)
			}
			if ce.Fields[tc.field] == "" {
				t.Errorf("fields = %v, want an error on %s", ce.Fields, tc.field)
			}
		})
	}
}

func TestInvalidEventConfigFailsPermanently(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(seedSession())
	p := newPlugin(t, host)
	res := p.HandleEvent(context.Background(), event(EventClosed, 1, json.RawMessage(`{"format":"soap"}`)))
	if res.Outcome != sdk.Permanent || !strings.Contains(res.Message, "format") {
		t.Errorf("result = %+v", res)
	}
}

// TestManifestParses checks plugin.json with the parser the hub runs on
// every bundled manifest at start: a manifest it refuses (a url or secret
// setting with "default": "", say) would stop the hub from starting.
func TestManifestParses(t *testing.T) {
	m, err := sdkmanifest.Parse(Manifest)
	if err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	md, d := m.Description(), New().Describe()
	if !m.Bundled || md.ID != d.ID || md.Name != d.Name || md.Version != d.Version {
		t.Errorf("manifest describes %+v (bundled %t), the plugin %+v", md, m.Bundled, d)
	}
}

type manifest struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Bundled      bool     `json:"bundled"`
	Capabilities []string `json:"capabilities"`
	Events       []string `json:"events"`
	Settings     []struct {
		Key      string   `json:"key"`
		Type     string   `json:"type"`
		Label    string   `json:"label"`
		Help     string   `json:"help"`
		Required bool     `json:"required"`
		Default  any      `json:"default"`
		Enum     []string `json:"enum"`
		Scope    string   `json:"scope"`
	} `json:"settings"`
}

func TestManifestMatchesCodeAndREADME(t *testing.T) {
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(Manifest)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	d := New().Describe()
	if d.ID != "posturl" || d.ID != m.ID || d.Name != m.Name || d.Version != m.Version || !m.Bundled {
		t.Errorf("describe = %+v, manifest = %+v", d, m)
	}
	if strings.Join(m.Events, ",") != strings.Join([]string{EventPickedUp, EventClosed, EventTimedOut}, ",") {
		t.Errorf("events = %v", m.Events)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	jsonKeys := map[string]bool{}
	rt := func() { // every manifest key is a Config json key
		b, _ := json.Marshal(Config{})
		var x map[string]any
		_ = json.Unmarshal(b, &x)
		for k := range x {
			jsonKeys[k] = true
		}
	}
	rt()
	for _, s := range m.Settings {
		if s.Scope != "group" {
			t.Errorf("%s: scope %q", s.Key, s.Scope)
		}
		if !jsonKeys[s.Key] {
			t.Errorf("setting %s is not in Config", s.Key)
		}
		if !strings.Contains(string(readme), "`"+s.Key+"`") {
			t.Errorf("README does not document setting %s", s.Key)
		}
	}
	if len(m.Settings) != len(jsonKeys) {
		t.Errorf("%d settings, Config has %d keys", len(m.Settings), len(jsonKeys))
	}
	for _, e := range m.Events {
		if !strings.Contains(string(readme), e) {
			t.Errorf("README does not name event %s", e)
		}
	}
	for _, g := range []string{"example.xml", "example.form", "example.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", g))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(readme), string(b)) {
			t.Errorf("README does not quote testdata/%s", g)
		}
	}
}
