package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// appletWait bounds every wait for the applet or the relay.
const appletWait = 30 * time.Second

// appletProc is a running `tether applet`, driven through its stdin and
// read line by line from its stdout, as a customer at a terminal would.
type appletProc struct {
	t       *testing.T
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  appletBuffer
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every line
	done    chan struct{} // closed once the process exited
	code    int
}

// appletBuffer collects stderr while the test may read it.
type appletBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *appletBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *appletBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startApplet(t *testing.T, args ...string) *appletProc {
	t.Helper()
	requireBinary(t)
	p := &appletProc{t: t, changed: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(binary, append([]string{"applet"}, args...)...)
	p.cmd.Env = cleanEnv()
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start tether applet: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
		err := p.cmd.Wait()
		p.mu.Lock()
		p.code = exitCode(err)
		p.mu.Unlock()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill() //nolint:errcheck // the test is over
			<-p.done
		}
		if t.Failed() {
			t.Logf("applet %v output:\n%s\nstderr:\n%s", args, p.output(), p.stderr.String())
		}
	})
	return p
}

// say types a line into the applet.
func (p *appletProc) say(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("type %q into the applet: %v", line, err)
	}
}

func (p *appletProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// await waits for an output line that ok accepts and returns it.
func (p *appletProc) await(what string, ok func(string) bool) string {
	p.t.Helper()
	deadline := time.After(appletWait)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if ok(l) {
				p.mu.Unlock()
				return l
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-p.done:
			select {
			case <-changed:
				continue // lines written just before the exit
			default:
			}
			p.t.Fatalf("the applet exited (code %d) before printing %s\noutput:\n%s\nstderr:\n%s", p.code, what, p.output(), p.stderr.String())
		case <-deadline:
			p.t.Fatalf("the applet did not print %s within %s\noutput:\n%s", what, appletWait, p.output())
		}
	}
}

func (p *appletProc) awaitLine(line string) { p.t.Helper(); p.await(strconv.Quote(line), eq(line)) }

func (p *appletProc) awaitPrefix(prefix string) string {
	p.t.Helper()
	return p.await(strconv.Quote(prefix+"..."), func(l string) bool { return strings.HasPrefix(l, prefix) })
}

// count is how many output lines are exactly line.
func (p *appletProc) count(line string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		if l == line {
			n++
		}
	}
	return n
}

// exit waits for the process to end and returns its exit code.
func (p *appletProc) exit() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(appletWait):
		p.t.Fatalf("the applet still runs %s after the session ended\noutput:\n%s", appletWait, p.output())
		return -1
	}
}

func eq(want string) func(string) bool { return func(l string) bool { return l == want } }

// sessionOf reads the session ID from the applet's "joined session N" line.
func (p *appletProc) sessionOf() string {
	p.t.Helper()
	return strings.TrimPrefix(p.awaitPrefix("joined session "), "joined session ")
}

// appletTechnician is a group with one signed-in technician named name,
// whose nickname the customer sees.
func appletTechnician(t *testing.T, h *Hub, master *api, name string) (group map[string]any, tech *api) {
	t.Helper()
	email := strings.ToLower(name) + "@example.com"
	group = master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Desk of " + name})
	master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group["id"],
		"name": name, "nickname": name, "email": email, "password": "First-Pass-1"})
	tmp, _ := signIn(t, h, email, "First-Pass-1")
	tmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "First-Pass-1", "new_password": "Second-Pass-2"})
	tech, _ = signIn(t, h, email, "Second-Pass-2")
	return group, tech
}

// techRelay is a technician's relay websocket; it records every frame.
type techRelay struct {
	t      *testing.T
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	last   int64 // highest seq received
	more   chan struct{}
	closed chan struct{}
	n      int
}

// dialTech opens the technician's socket of session sid, resuming after seq after.
func dialTech(t *testing.T, h *Hub, tech *api, sid string, after int64) *techRelay {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(h.BaseURL, "http") + "/api/v1/relay/sessions/" + sid + "?resume_after=" + strconv.FormatInt(after, 10)
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + tech.token}}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("technician relay of session %s: %v (HTTP %d)", sid, err, code)
	}
	r := &techRelay{t: t, ws: ws, last: after, more: make(chan struct{}), closed: make(chan struct{})}
	t.Cleanup(func() { ws.CloseNow() })
	go func() {
		defer close(r.closed)
		for {
			var f map[string]any
			if err := wsjson.Read(context.Background(), ws, &f); err != nil {
				return
			}
			r.mu.Lock()
			r.frames = append(r.frames, f)
			if s, ok := f["seq"].(float64); ok && f["type"] == "message" && int64(s) > r.last {
				r.last = int64(s)
			}
			close(r.more)
			r.more = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *techRelay) chat(text string) {
	r.t.Helper()
	r.n++
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wsjson.Write(ctx, r.ws, map[string]any{"type": "chat", "text": text, "client_msg_id": fmt.Sprintf("t-%p-%d", r, r.n)}); err != nil {
		r.t.Fatalf("technician chat %q: %v", text, err)
	}
}

// awaitChat waits for a chat message with this body from the given sender
// kind and returns it.
func (r *techRelay) awaitChat(senderKind, body string) map[string]any {
	r.t.Helper()
	deadline := time.After(appletWait)
	for {
		r.mu.Lock()
		for _, f := range r.frames {
			if f["type"] == "message" && f["kind"] == "chat" && f["sender_kind"] == senderKind && f["body"] == body {
				r.mu.Unlock()
				return f
			}
		}
		more := r.more
		r.mu.Unlock()
		select {
		case <-more:
		case <-r.closed:
			r.t.Fatalf("the technician's socket closed before the chat %q arrived", body)
		case <-deadline:
			r.t.Fatalf("the technician did not receive the chat %q within %s", body, appletWait)
		}
	}
}

// chats counts the chat messages with this body among the frames received.
func (r *techRelay) chats(body string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.frames {
		if f["type"] == "message" && f["kind"] == "chat" && f["body"] == body {
			n++
		}
	}
	return n
}

func (r *techRelay) lastSeq() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// TestAppletPrivateSession: a technician creates a private session and
// reads its code; the customer joins with `tether applet --pin`, waits, is
// picked up, chats both ways, and the applet exits 0 when the technician
// closes the session.
func TestAppletPrivateSession(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			_, tina := appletTechnician(t, h, master, "Tina")
			created := tina.must(201, "POST", "/api/v1/sessions", map[string]any{})
			sid := id(created["session"].(map[string]any))

			p := startApplet(t, "--server", h.BaseURL, "--pin", created["pin"].(string))
			if got := p.sessionOf(); got != sid {
				t.Fatalf("the applet joined session %s, the code was for %s", got, sid)
			}
			p.awaitPrefix("waiting: position 1")
			if s := tina.must(200, "GET", "/api/v1/sessions/"+sid, nil); s["state"] != "waiting" || s["client_kind"] != "applet" {
				t.Fatalf("session after the applet joined: state %v, client_kind %v", s["state"], s["client_kind"])
			}
			// A message from the relay: the applet's socket is in the session.
			p.awaitLine("[system] Customer joined with the code.")

			tina.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			p.awaitLine("[system] Connected to Tina.")
			p.awaitLine("state: active") // chat opens with the pickup
			ws := dialTech(t, h, tina, sid, 0)
			p.say("My printer is on fire")
			ws.awaitChat("customer", "My printer is on fire")
			p.awaitLine("[you] My printer is on fire")
			ws.chat("Unplug it, please")
			p.awaitLine("[Tina] Unplug it, please")

			tina.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
			p.awaitLine("session ended: closed_by_technician")
			if code := p.exit(); code != 0 {
				t.Fatalf("the applet exited %d after the session ended, want 0", code)
			}
			for _, l := range []string{"[you] My printer is on fire", "[Tina] Unplug it, please"} {
				if n := p.count(l); n != 1 {
					t.Errorf("%q printed %d times", l, n)
				}
			}
		})
	}
}

// TestAppletChannelSessionWithTerms: on a channel with terms, a customer who
// declines ends the session (exit 0, declined_terms); one who accepts waits
// in the technician's queue, is picked up, chats, and leaves with /quit.
func TestAppletChannelSessionWithTerms(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			group, tina := appletTechnician(t, h, master, "Tina")
			chans := master.must(200, "GET", "/api/v1/channels", nil)["channels"].([]any)
			ch := id(chans[0].(map[string]any))
			master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+id(group), nil)
			master.must(200, "PUT", "/api/v1/units/"+ch+"/settings/terms", map[string]any{
				"value": map[string]any{"enabled": true, "text": "Be nice", "force_scroll": false}})

			no := startApplet(t, "--server", h.BaseURL, "--channel", ch, "--name", "Eve")
			no.awaitLine("  Be nice")
			no.awaitLine("accept? [y/N]")
			no.say("n")
			no.awaitLine("session ended: declined_terms")
			if code := no.exit(); code != 0 {
				t.Fatalf("declining the terms: exit %d, want 0", code)
			}

			p := startApplet(t, "--server", h.BaseURL, "--channel", ch, "--name", "Bob", "--field", "1=ACME", "--tracking-id", "T-42")
			sid := p.sessionOf()
			p.awaitLine("terms:")
			p.awaitLine("  Be nice")
			p.awaitLine("accept? [y/N]")
			p.say("y")
			p.awaitLine("terms accepted")
			p.awaitPrefix("waiting: position 1")

			var queued map[string]any
			for _, s := range tina.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any) {
				if s := s.(map[string]any); id(s) == sid {
					queued = s
				}
			}
			if queued == nil || queued["state"] != "waiting" || queued["customer_name"] != "Bob" {
				t.Fatalf("session %s in Tina's queue: %v", sid, queued)
			}
			s := tina.must(200, "GET", "/api/v1/sessions/"+sid, nil)
			if f := s["fields"].(map[string]any); f["tracking_id"] != "T-42" || f["cfields"].([]any)[1] != "ACME" {
				t.Fatalf("the channel form reached the hub as %v", f)
			}
			p.awaitLine("[system] Terms accepted; waiting for a technician.")

			tina.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			ws := dialTech(t, h, tina, sid, 0)
			p.awaitLine("[system] Connected to Tina.")
			p.awaitLine("state: active")
			ws.chat("Hello Bob, how can I help?")
			p.awaitLine("[Tina] Hello Bob, how can I help?")
			p.say("The screen is blank")
			ws.awaitChat("customer", "The screen is blank")
			p.awaitLine("[you] The screen is blank")

			p.say("/quit")
			p.awaitLine("session ended: closed_by_customer")
			if code := p.exit(); code != 0 {
				t.Fatalf("leaving with /quit: exit %d, want 0", code)
			}
			if s := tina.must(200, "GET", "/api/v1/sessions/"+sid, nil); s["state"] != "closed" {
				t.Fatalf("session after /quit: %v", s["state"])
			}
		})
	}
}

// TestAppletUnknownCode: a wrong code exits 1 with the hub's own message.
func TestAppletUnknownCode(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			h := StartHub(t, Options{Postgres: engine == "postgres"})
			res := Tether(t, nil, "applet", "--server", h.BaseURL, "--pin", "000000")
			const want = "Error: This code is unknown or has expired. Ask your technician for a new code.\n"
			if res.Code != 1 || res.Stderr != want || res.Stdout != "" {
				t.Fatalf("unknown code: exit %d, stdout %q, stderr %q; want 1 and %q", res.Code, res.Stdout, res.Stderr, want)
			}
			res = Tether(t, nil, "applet", "--server", h.BaseURL, "--pin", "12ab")
			if res.Code != 1 || !strings.Contains(res.Stderr, "pin: must be 6 digits") {
				t.Fatalf("malformed code: exit %d, stderr %q", res.Code, res.Stderr)
			}
		})
	}
}

// TestAppletSurvivesHubRestart: the hub stops under an active session and
// comes back on the same address. The applet reconnects by itself; what the
// technician writes after the restart reaches it once, and the line the
// customer typed while the hub was down reaches the technician once.
func TestAppletSurvivesHubRestart(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			addr := appletFreeAddr(t)
			h := StartHub(t, Options{Postgres: engine == "postgres", Args: []string{"--addr", addr}})
			if h.BaseURL != "http://"+addr {
				t.Fatalf("the hub listens on %s, want %s", h.BaseURL, addr)
			}
			master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
			_, tina := appletTechnician(t, h, master, "Tina")
			created := tina.must(201, "POST", "/api/v1/sessions", map[string]any{})
			sid := id(created["session"].(map[string]any))
			p := startApplet(t, "--server", h.BaseURL, "--pin", created["pin"].(string))
			p.awaitPrefix("waiting: position 1")
			p.awaitLine("[system] Customer joined with the code.")
			tina.must(200, "POST", "/api/v1/sessions/"+sid+"/pickup", nil)
			p.awaitLine("state: active")
			ws := dialTech(t, h, tina, sid, 0)
			p.say("before the restart")
			ws.awaitChat("customer", "before the restart")
			p.awaitLine("[you] before the restart")

			h.Stop()
			p.awaitLine("connection lost; reconnecting")
			p.say("typed while the hub was down")
			h.start()
			if h.BaseURL != "http://"+addr {
				t.Fatalf("the hub came back on %s, want %s", h.BaseURL, addr)
			}

			// Sent before the applet is back, most likely: it arrives on resume.
			ws = dialTech(t, h, tina, sid, ws.lastSeq())
			ws.chat("after the restart")
			p.awaitLine("reconnected")
			p.awaitLine("[Tina] after the restart")
			ws.awaitChat("customer", "typed while the hub was down")
			p.awaitLine("[you] typed while the hub was down")
			// One more round trip, so that any duplicate would have arrived by now.
			p.say("still there")
			ws.awaitChat("customer", "still there")
			p.awaitLine("[you] still there")

			for _, l := range []string{"[Tina] after the restart", "[you] typed while the hub was down", "[you] before the restart"} {
				if n := p.count(l); n != 1 {
					t.Errorf("the applet printed %q %d times, want once", l, n)
				}
			}
			if n := ws.chats("typed while the hub was down"); n != 1 {
				t.Errorf("the technician received the customer's line %d times, want once", n)
			}
			// The log itself holds every line once.
			all := dialTech(t, h, tina, sid, 0)
			all.awaitChat("customer", "still there")
			for _, body := range []string{"before the restart", "typed while the hub was down", "after the restart", "still there"} {
				if n := all.chats(body); n != 1 {
					t.Errorf("the session log holds %q %d times, want once", body, n)
				}
			}

			tina.must(200, "POST", "/api/v1/sessions/"+sid+"/close", nil)
			p.awaitLine("session ended: closed_by_technician")
			if code := p.exit(); code != 0 {
				t.Fatalf("the applet exited %d, want 0", code)
			}
			t.Logf("applet transcript:\n%s", p.output())
		})
	}
}

// appletFreeAddr picks a loopback address nobody listens on, so that a hub
// restarted on it keeps its URL.
func appletFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
