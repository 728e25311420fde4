package e2e

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// receiver is a real HTTP endpoint for post-to-URL: it records every post
// and can be taken down (503) or made slow, to be there mid-delivery.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	down     bool
	reject   bool // answer 400: a permanent failure
	delay    time.Duration
	posts    []post
	accepted map[string]int // 2xx answers per webhook-id
	arrived  chan struct{}
}

type post struct {
	EventID     string
	ContentType string
	User, Pass  string
	Body        []byte
	Path        string
	At          time.Time
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{accepted: map[string]int{}, arrived: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	down, reject, delay := r.down, r.reject, r.delay
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	if reject {
		http.Error(w, "unknown customer", http.StatusBadRequest)
		return
	}
	if down {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	}
	user, pass, _ := req.BasicAuth()
	p := post{EventID: req.Header.Get("webhook-id"), ContentType: req.Header.Get("Content-Type"), User: user, Pass: pass,
		Body: body, Path: req.URL.Path, At: time.Now()}
	r.mu.Lock()
	r.posts = append(r.posts, p)
	r.accepted[p.EventID]++
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	r.arrived <- struct{}{}
}

func (r *receiver) set(down bool, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down, r.delay, r.reject = down, delay, false
}

func (r *receiver) rejectAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reject = true
}

// url is the receiver's URL with credentials, which must reach it as basic
// auth and never show in the hub's log.
func (r *receiver) url(path string) string {
	u, _ := url.Parse(r.srv.URL + path)
	u.User = url.UserPassword("crm", "p2u-secret-42")
	return u.String()
}

// await returns the first post to path whose body contains all of want.
func (r *receiver) await(t testing.TB, what, path string, want ...string) post {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		for _, p := range r.posts {
			if p.Path != path {
				continue
			}
			ok := true
			for _, w := range want {
				ok = ok && bytes.Contains(p.Body, []byte(w))
			}
			if ok {
				r.mu.Unlock()
				return p
			}
		}
		r.mu.Unlock()
		select {
		case <-r.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s post to %s containing %q; got %d posts", what, path, want, len(r.posts))
		}
	}
}

// duplicates lists event IDs that were accepted more than once.
func (r *receiver) duplicates() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id, n := range r.accepted {
		if n > 1 {
			out = append(out, id+"×"+strconv.Itoa(n))
		}
	}
	return out
}

func xmlFields(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var doc struct {
		XMLName xml.Name
		Fields  []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("post is not XML: %v\n%s", err, body)
	}
	if doc.XMLName.Local != "session" {
		t.Errorf("root element %q, want session", doc.XMLName.Local)
	}
	out := map[string]string{}
	for _, f := range doc.Fields {
		out[f.XMLName.Local] = f.Value
	}
	return out
}

// pluginPID finds the process the hub started for a bundled plugin.
func pluginPID(t *testing.T, h *Hub, plugin string) int {
	t.Helper()
	return childPID(t, h, "plugin\x00run\x00"+plugin)
}

// childPID finds the hub's child process whose command line contains marker.
func childPID(t *testing.T, h *Hub, marker string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || !bytes.Contains(cmdline, []byte(marker)) {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// Field 4 of /proc/<pid>/stat is the parent PID.
			fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(fields) > 1 && fields[1] == strconv.Itoa(h.cmd.Process.Pid) && fields[0] != "Z" {
				return pid
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no child process %q under hub %d", marker, h.cmd.Process.Pid)
	return 0
}

func processGone(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z" // a zombie has exited
}

// session runs one private session through pick-up, a chat line and close,
// returning its id.
func p2uSession(t *testing.T, h *Hub, tech *api, customerName, chat string) string {
	t.Helper()
	c := tech.must(201, "POST", "/api/v1/sessions", map[string]any{"fields": map[string]any{
		"cfields": []string{customerName, "", "", "", "", ""}, "tracking_id": "CASE-" + customerName}})
	sid := id(c["session"].(map[string]any))
	joined := (&api{t: t, h: h}).must(201, "POST", "/api/v1/customer/join", map[string]any{"pin": c["pin"]})
	tech.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
	cust := dialRelay(t, h, "/api/v1/relay/customer?resume_after=0", joined["secret"].(string))
	techWS := dialRelay(t, h, "/api/v1/relay/sessions/"+sid+"?resume_after=0", tech.token)
	cust.send(map[string]any{"type": "chat", "text": chat, "client_msg_id": "c-" + sid})
	techWS.await("the customer's chat", msgWith("chat", chat), nil)
	tech.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
	return sid
}

// TestPostToURLPlugin drives the bundled post-to-URL plugin through the
// real binary with real plugin processes and a real HTTP receiver: start
// and end posts in XML and form with every field, the receiver down and
// back, the plugin process killed mid-delivery, the hub killed mid-delivery
// (and its plugin not left behind), on SQLite and PostgreSQL.
func TestPostToURLPlugin(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t)
			h := StartHub(t, Options{Postgres: engine == "postgres", Args: []string{"--plugin-retry-base", "200ms"}})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, techID, tech := staff(t, h, master, "kim@example.com")
			gid := id(group)

			plugins := master.must(200, "GET", "/api/v1/plugins", nil)["plugins"].([]any)
			if len(plugins) != 1 || plugins[0].(map[string]any)["id"] != "posturl" || plugins[0].(map[string]any)["bundled"] != true {
				t.Fatalf("plugins = %v, want the bundled posturl", plugins)
			}
			master.must(200, "POST", "/api/v1/plugins/posturl/enable", nil)
			settingsPath := "/api/v1/units/" + gid + "/plugins/posturl/settings"
			values := map[string]any{"start_url": rcv.url("/start"), "end_url": rcv.url("/end"), "format": "yaml",
				"allow_private_targets": true, "signing_secrets": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
			// A bad value is refused naming the field, and nothing is stored.
			status, out := master.call("PUT", settingsPath, map[string]any{"enabled": true, "values": values})
			if status != 422 || !strings.Contains(toJSON(out), `"format"`) {
				t.Fatalf("bad format: %d %v, want 422 naming format", status, out)
			}
			if v := master.must(200, "GET", settingsPath, nil); v["enabled"] != false {
				t.Fatalf("a refused save changed the settings: %v", v)
			}
			values["format"] = "xml"
			saved := master.must(200, "PUT", settingsPath, map[string]any{"enabled": true, "values": values})
			if strings.Contains(toJSON(saved), "whsec_") {
				t.Fatalf("the API returned the signing secret: %v", saved)
			}

			// XML: start and end posts with every field.
			sid := p2uSession(t, h, tech, "Alice", "my printer is on fire")
			start := rcv.await(t, "start", "/start", "<sessionid>"+sid+"</sessionid>")
			end := rcv.await(t, "end", "/end", "<sessionid>"+sid+"</sessionid>")
			if start.User != "crm" || start.Pass != "p2u-secret-42" || !strings.HasPrefix(start.ContentType, "application/xml") {
				t.Errorf("start post: auth %q/%q, content type %q", start.User, start.Pass, start.ContentType)
			}
			f := xmlFields(t, end.Body)
			for k, want := range map[string]string{"sessionid": sid, "techid": techID, "techname": "kim@example.com",
				"techemail": "kim@example.com", "cfield0": "Alice", "tracking0": "CASE-Alice"} {
				if f[k] != want {
					t.Errorf("end post <%s> = %q, want %q", k, f[k], want)
				}
			}
			for _, k := range []string{"pickuptime", "closingtime", "waitingtime", "worktime", "lastactiontime", "transmitted"} {
				if f[k] == "" {
					t.Errorf("end post <%s> is empty:\n%s", k, end.Body)
				}
			}
			if !strings.Contains(f["chatlog"], "Alice: my printer is on fire") {
				t.Errorf("end post chatlog = %q, want the customer's line", f["chatlog"])
			}
			if len(f) != 32 {
				t.Errorf("end post has %d elements, want the 32 of P2U-2", len(f))
			}

			// Form: the same through a real form POST.
			values["format"] = "form"
			master.must(200, "PUT", settingsPath, map[string]any{"enabled": true, "values": values})
			sid2 := p2uSession(t, h, tech, "Bob", "hello form")
			formEnd := rcv.await(t, "form end", "/end", "SessionID="+sid2+"&")
			form, err := url.ParseQuery(string(formEnd.Body))
			if err != nil || !strings.HasPrefix(formEnd.ContentType, "application/x-www-form-urlencoded") {
				t.Fatalf("form post: %v, content type %q", err, formEnd.ContentType)
			}
			for k, want := range map[string]string{"SessionID": sid2, "TechID": techID, "TechName": "kim@example.com", "CField0": "Bob", "Tracking0": "CASE-Bob"} {
				if form.Get(k) != want {
					t.Errorf("form %s = %q, want %q", k, form.Get(k), want)
				}
			}
			if !strings.Contains(form.Get("ChatLog"), "Bob: hello form") || form.Get("ClosingTime") == "" {
				t.Errorf("form ChatLog %q, ClosingTime %q", form.Get("ChatLog"), form.Get("ClosingTime"))
			}

			// The receiver down for a while: the posts wait and all arrive once it is back.
			rcv.set(true, 0)
			var downIDs []string
			for _, name := range []string{"Carol", "Dan", "Eve"} {
				downIDs = append(downIDs, p2uSession(t, h, tech, name, "while it was down"))
			}
			time.Sleep(1500 * time.Millisecond)
			rcv.set(false, 0)
			for _, s := range downIDs {
				rcv.await(t, "end after the receiver came back", "/end", "SessionID="+s+"&")
			}
			if d := rcv.duplicates(); len(d) > 0 {
				t.Errorf("event IDs accepted twice: %v", d)
			}

			// The plugin process killed mid-delivery: restarted, the post arrives.
			rcv.set(false, 1500*time.Millisecond)
			pid := pluginPID(t, h, "posturl")
			sid3 := p2uSession(t, h, tech, "Frank", "kill the plugin")
			time.Sleep(500 * time.Millisecond) // the start or end post is in flight
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			rcv.set(false, 0)
			rcv.await(t, "end after the plugin was killed", "/end", "SessionID="+sid3+"&")
			if newPID := pluginPID(t, h, "posturl"); newPID == pid {
				t.Errorf("plugin pid %d unchanged: it was not restarted", pid)
			}

			// The hub killed with SIGKILL mid-delivery: nothing lost after the restart,
			// and the old plugin process does not outlive its hub.
			rcv.set(false, 1500*time.Millisecond)
			oldPlugin := pluginPID(t, h, "posturl")
			sid4 := p2uSession(t, h, tech, "Grace", "kill the hub")
			time.Sleep(300 * time.Millisecond)
			h.Crash()
			deadline := time.Now().Add(5 * time.Second)
			for !processGone(oldPlugin) && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if !processGone(oldPlugin) {
				t.Errorf("plugin process %d outlived its killed hub", oldPlugin)
			}
			rcv.set(false, 0)
			rcv.await(t, "end after the hub was killed", "/end", "SessionID="+sid4+"&")

			// The delivery log shows every attempt; nothing failed. The last
			// acknowledgement may still be on its way into the log.
			var log []any
			for deadline := time.Now().Add(15 * time.Second); ; {
				log = master.must(200, "GET", "/api/v1/plugins/posturl/deliveries?limit=200", nil)["deliveries"].([]any)
				final := true
				for _, d := range log {
					st := d.(map[string]any)["state"]
					final = final && st != "pending" && st != "blocked" && st != "running"
				}
				if final || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(log) < 14 {
				t.Errorf("delivery log has %d entries, want at least 14 (7 sessions x start and end)", len(log))
			}
			for _, d := range log {
				d := d.(map[string]any)
				if d["state"] != "delivered" {
					t.Errorf("delivery %v of %v is %v: %v", d["id"], d["event_type"], d["state"], d["last_error"])
				}
				if len(d["history"].([]any)) < 1 || !strings.HasPrefix(d["event_id"].(string), "evt_") {
					t.Errorf("delivery %v: history %v, event id %v", d["id"], d["history"], d["event_id"])
				}
			}
			// A receiver that refuses a post (400) fails the delivery for good; once
			// it is fixed, an admin replays it, one by one or by time range.
			rcv.rejectAll()
			sid5 := p2uSession(t, h, tech, "Heidi", "rejected")
			sid6 := p2uSession(t, h, tech, "Ivan", "rejected too")
			var failed []any
			for deadline := time.Now().Add(20 * time.Second); len(failed) < 4 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				failed = master.must(200, "GET", "/api/v1/plugins/posturl/deliveries?state=failed", nil)["deliveries"].([]any)
			}
			if len(failed) != 4 {
				t.Fatalf("failed deliveries = %v, want the start and end posts of two sessions", failed)
			}
			var ivanEnd map[string]any
			for _, f := range failed {
				f := f.(map[string]any)
				if msg := f["last_error"].(string); !strings.Contains(msg, "400 Bad Request") || f["history"].([]any)[0].(map[string]any)["outcome"] != "permanent" {
					t.Errorf("failed delivery %v: %q, want the receiver's 400 as a permanent failure", f["id"], msg)
				}
				if strconv.Itoa(int(f["session_id"].(float64))) == sid6 && f["event_type"] == "session.closed" {
					ivanEnd = f
				}
			}
			rcv.set(false, 0)
			newest := ivanEnd
			r := Tether(t, nil, "plugin", "replay", "posturl", strconv.Itoa(int(newest["id"].(float64))), "--server", h.BaseURL, "--token", master.token)
			if r.Code != 0 || !strings.Contains(r.Stdout, "replayed 1") {
				t.Fatalf("tether plugin replay: %d %s%s", r.Code, r.Stdout, r.Stderr)
			}
			rcv.await(t, "replayed end", "/end", "SessionID="+sid6+"&")
			from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			if out := master.must(200, "POST", "/api/v1/plugins/posturl/deliveries/replay", map[string]any{"from": from, "to": to}); out["replayed"] != float64(3) {
				t.Fatalf("replay by range: %v, want the 3 still failed", out)
			}
			rcv.await(t, "end replayed by range", "/end", "SessionID="+sid5+"&")

			// A graceful stop takes the plugin process with it.
			last := pluginPID(t, h, "posturl")
			h.Stop()
			for deadline := time.Now().Add(10 * time.Second); !processGone(last); time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("plugin process %d outlived the hub's graceful stop", last)
				}
			}
			if strings.Contains(h.Log(), "p2u-secret-42") || strings.Contains(h.Log(), "whsec_MfKQ") {
				t.Error("a post-to-URL credential or signing secret reached the hub's log")
			}
		})
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
