package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 11, 25, 9, 0, 0, 123456789, time.UTC))
}

// insertNode adds a nodes row (owned by core/org) with plain SQL.
func insertNode(t testing.TB, db *bun.DB, kind, name string) int64 {
	t.Helper()
	var id int64
	now := time.Now().UTC()
	err := db.NewRaw("INSERT INTO nodes (kind, name, created_at, updated_at) VALUES (?, ?, ?, ?) RETURNING id",
		kind, name, now, now).Scan(context.Background(), &id)
	if err != nil {
		t.Fatalf("insert node: %v", err)
	}
	return id
}

// insertSession adds a sessions row (owned by core/sessions) with plain SQL.
func insertSession(t testing.TB, db *bun.DB, technicianID int64) int64 {
	t.Helper()
	var id int64
	now := time.Now().UTC()
	var tech any
	if technicianID != 0 {
		tech = technicianID
	}
	err := db.NewRaw("INSERT INTO sessions (kind, state, technician_id, aggregate, created_at, updated_at) VALUES ('private', 'Active', ?, '{}', ?, ?) RETURNING id",
		tech, now, now).Scan(context.Background(), &id)
	if err != nil {
		t.Fatalf("insert session: %v", err)
	}
	return id
}

// outboxEvent is a session_events row as the test outbox writes it.
type outboxEvent struct {
	Type    string
	ActorID int64
	Payload string
}

func testOutbox(ctx context.Context, db bun.IDB, sessionID int64, eventType string, actorID int64, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	_, err = insertTestEvent.Exec(ctx, db, sessionID, eventType, actorID, string(raw), time.Now().UTC())
	return err
}

// insertTestEvent is prepared, as the sessions service's outbox insert is,
// so that the relay's benchmarks cost what the hub's appends cost.
var insertTestEvent = store.NewStatement("INSERT INTO session_events (session_id, type, actor_id, payload, at) VALUES (?, ?, ?, ?, ?)")

func events(t testing.TB, db *bun.DB, sessionID int64) []outboxEvent {
	t.Helper()
	var out []outboxEvent
	rows, err := db.QueryContext(context.Background(), "SELECT type, actor_id, payload FROM session_events WHERE session_id = ? ORDER BY id", sessionID)
	if err != nil {
		t.Fatalf("read events: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e outboxEvent
		if err := rows.Scan(&e.Type, &e.ActorID, &e.Payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// fakeSessions stands in for core/sessions.
type fakeSessions struct {
	collab *Collaboration
	db     *bun.DB

	mu           sync.Mutex
	secrets      map[string]int64
	sessions     map[int64]*SessionInfo
	perms        map[int64]org.Permissions
	connected    map[int64]int
	disconnected map[int64]int
	activity     map[int64]int
	transmitted  map[int64]int64
	tools        map[int64][]string
	// reloadDelay makes every look-up of a session this slow, as a busy
	// database would.
	reloadDelay time.Duration
}

func newFakeSessions(db *bun.DB, collab *Collaboration) *fakeSessions {
	return &fakeSessions{
		db: db, collab: collab, secrets: map[string]int64{}, sessions: map[int64]*SessionInfo{},
		perms: map[int64]org.Permissions{}, connected: map[int64]int{}, disconnected: map[int64]int{},
		activity: map[int64]int{}, transmitted: map[int64]int64{}, tools: map[int64][]string{},
	}
}

func (f *fakeSessions) add(id, technicianID int64, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[secret] = id
	f.sessions[id] = &SessionInfo{ID: id, State: "Active", Live: true, CustomerName: "Ada", TechnicianID: technicianID}
}

func (f *fakeSessions) setPerms(technicianID int64, p org.Permissions) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.perms[technicianID] = p
}

func (f *fakeSessions) update(id int64, fn func(*SessionInfo)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.sessions[id])
}

func (f *fakeSessions) Customer(_ context.Context, secret string) (SessionInfo, error) {
	f.mu.Lock()
	delay := f.reloadDelay
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.secrets[secret]
	if !ok {
		return SessionInfo{}, fault.New(fault.Unauthorized, "unauthorized", "Unknown session secret.")
	}
	return *f.sessions[id], nil
}

func (f *fakeSessions) Technician(ctx context.Context, sessionID, technicianID int64) (SessionInfo, Role, error) {
	f.mu.Lock()
	s, ok := f.sessions[sessionID]
	var info SessionInfo
	if ok {
		info = *s
	}
	f.mu.Unlock()
	if !ok {
		return SessionInfo{}, "", fault.NotFoundf("session", "no session %d", sessionID)
	}
	if info.TechnicianID == technicianID {
		return info, RoleOwner, nil
	}
	invited, err := f.collab.Invited(ctx, f.db, sessionID, technicianID)
	if err != nil {
		return SessionInfo{}, "", err
	}
	if invited {
		return info, RoleCollaborator, nil
	}
	return SessionInfo{}, "", fault.Forbiddenf("forbidden", "Not your session.")
}

func (f *fakeSessions) Permissions(_ context.Context, technicianID int64) (org.Permissions, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.perms[technicianID]; ok {
		return p, nil
	}
	return *org.DefaultPermissions(), nil
}

func (f *fakeSessions) count(m map[int64]int, id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m[id]++
}

func (f *fakeSessions) CustomerConnected(_ context.Context, id int64) error {
	f.count(f.connected, id)
	return nil
}

func (f *fakeSessions) CustomerDisconnected(_ context.Context, id int64) error {
	f.count(f.disconnected, id)
	f.update(id, func(s *SessionInfo) { s.State = "Reconnecting" })
	return nil
}

func (f *fakeSessions) Activity(_ context.Context, id int64, _ Viewer) error {
	f.count(f.activity, id)
	return nil
}

func (f *fakeSessions) AddTransmitted(_ context.Context, id int64, n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transmitted[id] += n
	return nil
}

func (f *fakeSessions) ToolUsed(_ context.Context, id int64, tool string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tools[id] = append(f.tools[id], tool)
	return nil
}

func (f *fakeSessions) get(m map[int64]int, id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return m[id]
}

func (f *fakeSessions) bytes(id int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.transmitted[id]
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a relay behind a real HTTP server.
type harness struct {
	t        testing.TB
	db       *bun.DB
	srv      *Server
	http     *httptest.Server
	sessions *fakeSessions
	clock    *clocktest.Clock
	logs     *syncBuffer
	owner    int64 // a technician who owns session
	session  int64
}

const secret = "s3cret-customer"

func newHarness(t testing.TB, db *bun.DB, tweak ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, db: db, clock: newClock(), logs: &syncBuffer{}}
	log := NewLog(db, testOutbox, h.clock.Now)
	collab := NewCollaboration(log)
	h.sessions = newFakeSessions(db, collab)
	cfg := Config{
		DB: db, Log: log, Collab: collab, Sessions: h.sessions, Now: h.clock.Now,
		Logger: hclog.New(&hclog.LoggerOptions{Output: h.logs, Level: hclog.Debug}),
		AuthenticateTechnician: func(r *http.Request) (int64, error) {
			id, err := strconv.ParseInt(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer tech-"), 10, 64)
			if err != nil {
				return 0, fault.New(fault.Unauthorized, "unauthorized", "Sign in.")
			}
			return id, nil
		},
		Limits: Limits{RatePerSecond: 1e6, RateBurst: 1e6, ActivityInterval: -1},
	}
	for _, f := range tweak {
		f(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/relay/customer", srv.CustomerHandler())
	mux.Handle("GET /api/v1/relay/sessions/{id}", srv.TechnicianHandler())
	h.http = httptest.NewServer(mux)
	t.Cleanup(h.http.Close)
	h.owner = insertNode(t, db, "technician", "Owner")
	h.session = insertSession(t, db, h.owner)
	h.sessions.add(h.session, h.owner, secret)
	return h
}

func (h *harness) wsURL(path string) string {
	return "ws" + strings.TrimPrefix(h.http.URL, "http") + path
}

// customer connects with the session secret, resuming after seq.
func (h *harness) customer(resume int64) *client {
	h.t.Helper()
	return h.dial(h.wsURL(fmt.Sprintf("/api/v1/relay/customer?resume_after=%d", resume)), http.Header{"Authorization": {"Bearer " + secret}})
}

// technician connects technician id to the harness session.
func (h *harness) technician(id int64, resume int64) *client {
	h.t.Helper()
	return h.dial(h.wsURL(fmt.Sprintf("/api/v1/relay/sessions/%d?resume_after=%d", h.session, resume)),
		http.Header{"Authorization": {fmt.Sprintf("Bearer tech-%d", id)}})
}

func (h *harness) dial(url string, header http.Header) *client {
	h.t.Helper()
	c, err := dialClient(url, header)
	if err != nil {
		h.t.Fatalf("dial %s: %v", url, err)
	}
	h.t.Cleanup(func() { c.ws.CloseNow() })
	hello := c.next(h.t)
	if hello.Type != TypeHello {
		h.t.Fatalf("first frame %+v, want hello", hello)
	}
	c.hello = hello
	return c
}

// client is a test websocket client reading frames in the background.
type client struct {
	ws     *websocket.Conn
	frames chan ServerFrame
	binary chan []byte
	done   chan struct{}
	err    error // why the read loop ended, valid after done
	hello  ServerFrame
	// pending are frames read while waiting for another one (an ack), kept
	// for the next reads.
	pending []ServerFrame
}

func dialClient(url string, header http.Header) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		return nil, err
	}
	ws.SetReadLimit(4 << 20)
	c := &client{ws: ws, frames: make(chan ServerFrame, 1024), binary: make(chan []byte, 1024), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		// Text frames are read into one buffer, as the hub reads them, so
		// that the benchmarks' clients (in the hub's process) add as little
		// garbage as they can to what they measure.
		text := make([]byte, 0, 4<<10)
		for {
			typ, r, err := ws.Reader(context.Background())
			if err != nil {
				c.err = err
				return
			}
			if typ == websocket.MessageBinary {
				data, err := io.ReadAll(r)
				if err != nil {
					c.err = err
					return
				}
				c.binary <- data
				continue
			}
			data, err := readAll(r, text[:0])
			if err != nil {
				c.err = err
				return
			}
			text = data
			var f ServerFrame
			if err := json.Unmarshal(data, &f); err != nil {
				c.err = err
				return
			}
			c.frames <- f
		}
	}()
	return c, nil
}

func (c *client) send(t testing.TB, frame any) {
	t.Helper()
	b, err := json.Marshal(frame)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func (c *client) sendBinary(t testing.TB, b []byte) {
	t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, b); err != nil {
		t.Fatalf("send binary: %v", err)
	}
}

const wait = 5 * time.Second

func (c *client) next(t testing.TB) ServerFrame {
	t.Helper()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f
	}
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		select { // frames read before the close come first
		case f := <-c.frames:
			return f
		default:
		}
		t.Fatalf("socket closed: %v", c.err)
	case <-time.After(wait):
		t.Fatal("no frame within 5s")
	}
	return ServerFrame{}
}

// expect returns the next frame of the given type, failing on any other
// frame type in between except those listed in skip.
func (c *client) expect(t testing.TB, typ string, skip ...string) ServerFrame {
	t.Helper()
	for {
		f := c.next(t)
		if f.Type == typ {
			return f
		}
		ok := false
		for _, s := range skip {
			ok = ok || s == f.Type
		}
		if !ok {
			t.Fatalf("got %s frame %+v, want %s", f.Type, f, typ)
		}
	}
}

// quiet fails if any frame arrives within d.
func (c *client) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	if len(c.pending) > 0 {
		t.Fatalf("unexpected frame %+v", c.pending[0])
	}
	select {
	case f := <-c.frames:
		t.Fatalf("unexpected frame %+v", f)
	case <-time.After(d):
	}
}

// closed waits for the server to close the socket and returns the code.
func (c *client) closed(t testing.TB) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
		return websocket.CloseStatus(c.err)
	case <-time.After(wait):
		t.Fatal("socket still open")
	}
	return 0
}

// chat sends a chat frame and returns its ack.
func (c *client) chat(t testing.TB, id, text string) ServerFrame {
	t.Helper()
	c.send(t, ClientFrame{Type: TypeChat, ClientMsgID: id, Text: text})
	return c.ack(t, id)
}

// ack waits for the ack of id, keeping the other frames for later reads.
func (c *client) ack(t testing.TB, id string) ServerFrame {
	t.Helper()
	var kept []ServerFrame
	defer func() { c.pending = append(kept, c.pending...) }()
	for {
		f := c.next(t)
		switch {
		case f.Type == TypeAck && f.ClientMsgID == id:
			return f
		case f.Type == TypeError:
			t.Fatalf("got %+v while waiting for ack of %s", f, id)
		}
		kept = append(kept, f)
	}
}

func (c *client) errorFor(t testing.TB, frame ClientFrame) ServerFrame {
	t.Helper()
	c.send(t, frame)
	return c.expect(t, TypeError, TypeMessage)
}
