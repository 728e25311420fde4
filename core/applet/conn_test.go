package applet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/applet"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/store/storetest"
)

// The library is tested against the hub's real relay (core/relay on a
// real database), reached through a TCP proxy the test can cut, mute or
// close: network drops are real dropped connections.

const (
	wait   = 10 * time.Second
	secret = "customer-secret"
)

// sessions stands in for core/sessions: one session, owned or not.
type sessions struct {
	mu   sync.Mutex
	info relay.SessionInfo
}

func (s *sessions) get() relay.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

func (s *sessions) set(fn func(*relay.SessionInfo)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.info)
}

func (s *sessions) Customer(_ context.Context, sec string) (relay.SessionInfo, error) {
	if sec != secret {
		return relay.SessionInfo{}, fault.New(fault.Unauthorized, "invalid_customer_secret", "This session link is not valid.")
	}
	return s.get(), nil
}

func (s *sessions) Technician(_ context.Context, id, tech int64) (relay.SessionInfo, relay.Role, error) {
	if info := s.get(); info.ID == id && info.TechnicianID == tech {
		return info, relay.RoleOwner, nil
	}
	return relay.SessionInfo{}, "", fault.Forbiddenf("not_your_session", "Not your session.")
}

func (s *sessions) Permissions(context.Context, int64) (org.Permissions, error) {
	return *org.DefaultPermissions(), nil
}
func (s *sessions) CustomerConnected(context.Context, int64) error      { return nil }
func (s *sessions) CustomerDisconnected(context.Context, int64) error   { return nil }
func (s *sessions) Activity(context.Context, int64, relay.Viewer) error { return nil }
func (s *sessions) AddTransmitted(context.Context, int64, int64) error  { return nil }
func (s *sessions) ToolUsed(context.Context, int64, string) error       { return nil }

// env is a relay with one session, a customer Client reaching it through
// a proxy, and the owner's token.
type env struct {
	t        *testing.T
	db       *bun.DB
	relay    *relay.Server
	srv      *httptest.Server
	proxy    *proxy
	sessions *sessions
	client   *applet.Client
	session  int64
	owner    int64
}

func newEnv(t *testing.T, db *bun.DB, owned bool) *env {
	t.Helper()
	e := &env{t: t, db: db, sessions: &sessions{}}
	now := time.Now().UTC()
	ctx := context.Background()
	if err := db.NewRaw("INSERT INTO nodes (kind, name, created_at, updated_at) VALUES ('technician', 'Tina', ?, ?) RETURNING id", now, now).Scan(ctx, &e.owner); err != nil {
		t.Fatal(err)
	}
	var tech any
	if owned {
		tech = e.owner
	}
	if err := db.NewRaw("INSERT INTO sessions (kind, state, technician_id, aggregate, created_at, updated_at) VALUES ('private', 'active', ?, '{}', ?, ?) RETURNING id",
		tech, now, now).Scan(ctx, &e.session); err != nil {
		t.Fatal(err)
	}
	e.sessions.info = relay.SessionInfo{ID: e.session, State: "active", Live: true, CustomerName: "Ada"}
	if owned {
		e.sessions.info.TechnicianID = e.owner
	}
	srv, err := relay.NewServer(relay.Config{
		DB: db, Sessions: e.sessions,
		AuthenticateTechnician: func(r *http.Request) (int64, error) {
			id, err := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tech-"), 10, 64)
			if err != nil {
				return 0, fault.New(fault.Unauthorized, "unauthorized", "Sign in.")
			}
			return id, nil
		},
		Limits: relay.Limits{RatePerSecond: 1e6, RateBurst: 1e6, ActivityInterval: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.relay = srv
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/relay/customer", srv.CustomerHandler())
	mux.Handle("GET /api/v1/relay/sessions/{id}", srv.TechnicianHandler())
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.proxy = newProxy(t, e.srv.Listener.Addr().String())
	u, _ := url.Parse("http://" + e.proxy.addr())
	e.client = &applet.Client{Server: u, Keepalive: -1, MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	e.client.SetSecret(secret)
	return e
}

func (e *env) connect() *applet.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := e.client.Connect(ctx)
	if err != nil {
		e.t.Fatalf("connect: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// technician is the owner's socket, straight to the relay (no proxy).
type technician struct {
	t  *testing.T
	ws *websocket.Conn
	n  int

	mu     sync.Mutex
	bodies map[string]int
	seen   chan struct{}
}

func (e *env) technician() *technician {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + fmt.Sprintf("/api/v1/relay/sessions/%d?resume_after=0", e.session)
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", e.owner)}}})
	if err != nil {
		e.t.Fatalf("technician dial: %v", err)
	}
	e.t.Cleanup(func() { ws.CloseNow() })
	tc := &technician{t: e.t, ws: ws, bodies: map[string]int{}, seen: make(chan struct{}, 1024)}
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var m applet.Message
			var f struct{ Type string }
			if json.Unmarshal(b, &f) != nil || f.Type != "message" || json.Unmarshal(b, &m) != nil || m.Kind != "chat" {
				continue
			}
			tc.mu.Lock()
			tc.bodies[m.Body]++
			tc.mu.Unlock()
			tc.seen <- struct{}{}
		}
	}()
	return tc
}

func (tc *technician) chat(text string) {
	tc.t.Helper()
	tc.n++
	b, _ := json.Marshal(map[string]string{"type": "chat", "text": text, "client_msg_id": fmt.Sprintf("t-%d", tc.n)})
	if err := tc.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		tc.t.Fatal(err)
	}
}

func (tc *technician) count(body string) int {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	return tc.bodies[body]
}

// awaitChat waits until the technician has received body.
func (tc *technician) awaitChat(body string) {
	tc.t.Helper()
	deadline := time.After(wait)
	for tc.count(body) == 0 {
		select {
		case <-tc.seen:
		case <-deadline:
			tc.t.Fatalf("the technician did not receive %q", body)
		}
	}
}

// next returns the next message the Conn delivers.
func next(t *testing.T, c *applet.Conn) applet.Message {
	t.Helper()
	select {
	case m, ok := <-c.Messages():
		if !ok {
			t.Fatalf("messages closed: %v", c.Err())
		}
		return m
	case <-time.After(wait):
		t.Fatal("no message")
	}
	return applet.Message{}
}

// chatsUntil collects the chat messages delivered up to and including the
// one with body last, checking that seqs only grow.
func chatsUntil(t *testing.T, c *applet.Conn, last string) []applet.Message {
	t.Helper()
	var out []applet.Message
	prev := int64(0)
	for {
		m := next(t, c)
		if m.Seq <= prev {
			t.Fatalf("seq %d delivered after %d", m.Seq, prev)
		}
		prev = m.Seq
		if m.Kind != "chat" {
			continue
		}
		out = append(out, m)
		if m.Body == last {
			return out
		}
	}
}

func awaitLink(t *testing.T, c *applet.Conn, up bool) {
	t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case l := <-c.Links():
			if l.Up == up {
				return
			}
		case <-deadline:
			t.Fatalf("the link did not go up=%v", up)
		}
	}
}

func TestChatBothWays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		tc := e.technician()
		seq, err := c.Send(context.Background(), "My printer is on fire")
		if err != nil || seq <= 0 {
			t.Fatalf("send: %d, %v", seq, err)
		}
		tc.awaitChat("My printer is on fire")
		tc.chat("Unplug it")
		got := chatsUntil(t, c, "Unplug it")
		if len(got) != 2 || got[0].Seq != seq || got[0].SenderKind != "customer" || got[1].SenderKind != "technician" || got[1].SenderID != e.owner {
			t.Fatalf("delivered %+v; own chat stored as %d", got, seq)
		}
		if c.LastSeq() != got[1].Seq {
			t.Fatalf("last seq %d, want %d", c.LastSeq(), got[1].Seq)
		}
	})
}

// TestResumeAfterDrop: messages stored while the customer is cut off arrive
// once after the reconnection, and a line typed while cut off is stored once.
func TestResumeAfterDrop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		tc := e.technician()
		tc.chat("before")
		chatsUntil(t, c, "before")

		e.proxy.setRefuse(true) // the network is down: no reconnection yet
		e.proxy.cut()
		awaitLink(t, c, false)
		for _, s := range []string{"one", "two", "three"} {
			tc.chat(s)
			tc.awaitChat(s)
		}
		sent := make(chan error, 1)
		go func() { _, err := c.Send(context.Background(), "typed while cut off"); sent <- err }()
		time.Sleep(100 * time.Millisecond) // a few refused reconnection attempts
		e.proxy.setRefuse(false)
		awaitLink(t, c, true)
		if err := <-sent; err != nil {
			t.Fatalf("send across the drop: %v", err)
		}
		got := chatsUntil(t, c, "typed while cut off")
		var bodies []string
		for _, m := range got {
			bodies = append(bodies, m.Body)
		}
		if strings.Join(bodies, ",") != "one,two,three,typed while cut off" {
			t.Fatalf("delivered after the drop: %v", bodies)
		}
		tc.awaitChat("typed while cut off")
		if n := countChats(t, db, e.session, "typed while cut off"); n != 1 {
			t.Fatalf("stored %d times", n)
		}
	})
}

// TestResendWhenAckLost: the chat is stored but neither its ack nor its
// message reach the customer before the drop; the re-send with the same
// client_msg_id gets the original seq, and nothing is stored twice.
func TestResendWhenAckLost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		tc := e.technician()
		tc.chat("hello")
		chatsUntil(t, c, "hello")

		e.proxy.setMuted(true)
		type res struct {
			seq int64
			err error
		}
		sent := make(chan res, 1)
		go func() { seq, err := c.Send(context.Background(), "is it stored?"); sent <- res{seq, err} }()
		tc.awaitChat("is it stored?")
		select {
		case r := <-sent:
			t.Fatalf("Send returned %+v without an ack", r)
		case <-time.After(50 * time.Millisecond):
		}
		e.proxy.setMuted(false)
		e.proxy.cut()
		r := <-sent
		if r.err != nil {
			t.Fatal(r.err)
		}
		got := chatsUntil(t, c, "is it stored?")
		if len(got) != 1 || got[0].Seq != r.seq {
			t.Fatalf("delivered %+v, Send said seq %d", got, r.seq)
		}
		tc.chat("after")
		if got := chatsUntil(t, c, "after"); len(got) != 1 {
			t.Fatalf("delivered %+v, want only the technician's reply", got)
		}
		if n := countChats(t, db, e.session, "is it stored?"); n != 1 {
			t.Fatalf("stored %d times", n)
		}
		if n := tc.count("is it stored?"); n != 1 {
			t.Fatalf("the technician received it %d times", n)
		}
	})
}

func TestSessionEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		// The hello (and its state) says the relay has the socket in the session.
		if s := <-c.States(); s != "active" {
			t.Fatalf("first state %q", s)
		}
		e.sessions.set(func(i *relay.SessionInfo) { i.Live, i.State = false, "closed" })
		e.relay.Hub().PushState(e.session, "closed")
		e.relay.Hub().End(e.session)
		select {
		case <-c.Done():
		case <-time.After(wait):
			t.Fatal("the Conn did not stop when the session ended")
		}
		if !errors.Is(c.Err(), applet.ErrEnded) {
			t.Fatalf("Err = %v, want ErrEnded", c.Err())
		}
		for range c.Messages() {
		}
		if _, err := c.Send(context.Background(), "anyone?"); !errors.Is(err, applet.ErrEnded) {
			t.Fatalf("send after the end: %v", err)
		}
		_, err := e.client.Connect(context.Background())
		if !errors.Is(err, applet.ErrEnded) || !applet.IsCode(err, "session_ended") {
			t.Fatalf("connect after the end: %v", err)
		}
	})
}

// TestEndWhileCutOff: the session ends while the customer is away; the
// reconnection is refused for good and the Conn stops with ErrEnded.
func TestEndWhileCutOff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		e.proxy.setRefuse(true)
		e.proxy.cut()
		awaitLink(t, c, false)
		e.sessions.set(func(i *relay.SessionInfo) { i.Live, i.State = false, "closed" })
		e.proxy.setRefuse(false)
		select {
		case <-c.Done():
		case <-time.After(wait):
			t.Fatal("the Conn still runs")
		}
		if !errors.Is(c.Err(), applet.ErrEnded) {
			t.Fatalf("Err = %v, want ErrEnded", c.Err())
		}
	})
}

func TestChatBeforePickupIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, false)
		c := e.connect()
		_, err := c.Send(context.Background(), "hello?")
		var re *applet.RelayError
		if !errors.As(err, &re) || re.Code != "chat_unavailable" {
			t.Fatalf("send before pickup: %v", err)
		}
		e.sessions.set(func(i *relay.SessionInfo) { i.TechnicianID = e.owner })
		e.relay.Hub().PushState(e.session, "active")
		select {
		case s := <-c.States():
			if s != "active" {
				t.Fatalf("state %q", s)
			}
		case <-time.After(wait):
			t.Fatal("no state")
		}
		if _, err := c.Send(context.Background(), "hello!"); err != nil {
			t.Fatalf("send after pickup: %v", err)
		}
	})
}

func TestConnectRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		e.client.SetSecret("wrong")
		_, err := e.client.Connect(context.Background())
		var ae *applet.Error
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Message != "This session link is not valid." {
			t.Fatalf("connect with a wrong secret: %v", err)
		}
	})
}

func TestCloseStopsReconnecting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db, true)
		c := e.connect()
		e.proxy.setRefuse(true)
		e.proxy.cut()
		awaitLink(t, c, false)
		done := make(chan struct{})
		go func() { c.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(wait):
			t.Fatal("Close hangs while reconnecting")
		}
		if !errors.Is(c.Err(), applet.ErrClosed) {
			t.Fatalf("Err = %v", c.Err())
		}
	})
}

func countChats(t *testing.T, db *bun.DB, session int64, body string) int64 {
	t.Helper()
	n, err := db.NewSelect().Table("session_messages").Where("session_id = ? AND kind = 'chat' AND body = ?", session, body).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// proxy forwards TCP connections to the relay; the test cuts them all,
// refuses new ones, or mutes the way back (bytes from the relay dropped).
type proxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  map[net.Conn]bool
	refuse bool
	muted  bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) setRefuse(v bool) { p.mu.Lock(); p.refuse = v; p.mu.Unlock() }
func (p *proxy) setMuted(v bool)  { p.mu.Lock(); p.muted = v; p.mu.Unlock() }

func (p *proxy) isMuted() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.muted }

// cut closes every forwarded connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = true, true
		p.mu.Unlock()
		go func() { io.Copy(out, in); out.Close(); in.Close() }()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := out.Read(buf)
				if n > 0 && !p.isMuted() {
					if _, werr := in.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			in.Close()
			out.Close()
		}()
	}
}
