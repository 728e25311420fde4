package relay

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
)

// conn is one socket of one side of a session. Three goroutines serve it:
// the reader (handles frames; the only one that appends), the writer (the
// only one that writes to the socket: log messages it reads itself, then the
// queued control and binary frames) and keepAlive (pings, byte counts).
type conn struct {
	srv       *Server
	ws        *websocket.Conn
	sessionID int64
	viewer    Viewer
	secret    string // the customer's, to reload the session after a state change

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	wake chan struct{} // capacity 1: wake-ups merge

	hintMu   sync.Mutex
	hints    []*published // messages published since the last catch-up
	spare    []*published // the writer's emptied slice, for hints after the next catch-up
	mustRead bool         // a wake-up without a message, or too many hints: read the log
	ctrl     chan []byte
	bin      chan *binFrame

	ready       chan struct{} // closed once the resume point is known
	startOnce   sync.Once
	resumeAfter int64 // written before ready is closed
	cursor      int64 // writer only: the last seq sent
	// writeTimer cancels the socket when a write outlasts WriteTimeout:
	// one timer re-armed for every write, not a context and a timer each.
	writeTimer *time.Timer

	replaced  atomic.Bool // a newer socket of the same side took over
	ended     atomic.Bool // the session ended
	closeOnce sync.Once

	reloadMu sync.Mutex // one view reload at a time (view)
	mu       sync.Mutex // guards the session view below
	stale    bool
	info     SessionInfo
	role     Role
	perms    org.Permissions // the technician's own
	chatMode org.ChatMode    // the owner's; "" while nobody owns the session

	// reader only
	limiter      *bucket
	strikes      int
	first        bool
	lastActivity time.Time
	files        map[int64]*fileStream
	arrived      time.Time // when the frame being handled was read

	transmitted atomic.Int64 // relayed bytes not yet added to the session
	opened      time.Time    // wall clock, for WakeCustomer on other nodes
}

func (s *Server) newConn(sessionID int64, v Viewer, role Role) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	t := time.AfterFunc(time.Hour, cancel)
	t.Stop()
	return &conn{
		srv: s, sessionID: sessionID, viewer: v, role: role, ctx: ctx, cancel: cancel, writeTimer: t,
		wake: make(chan struct{}, 1), ctrl: make(chan []byte, s.limits.SendQueue),
		bin: make(chan *binFrame, s.limits.BinaryQueue), ready: make(chan struct{}),
		limiter: newBucket(s.limits.RatePerSecond, s.limits.RateBurst), files: map[int64]*fileStream{},
		opened: time.Now(),
	}
}

func (c *conn) isCustomer() bool { return c.viewer.Kind == SenderCustomer }

// otherSide is whom c's binary frames go to: the technicians for the
// customer, the customer for a technician.
func (c *conn) otherSide() SenderKind {
	if c.isCustomer() {
		return SenderTechnician
	}
	return SenderCustomer
}

// loadPermissions fills the technician's own permissions and the session's
// chat mode, which is the owner's (ORG-7).
func (c *conn) loadPermissions(ctx context.Context) error {
	s := c.srv
	var own org.Permissions
	if !c.isCustomer() {
		p, err := s.sessions.Permissions(ctx, c.viewer.ID)
		if err != nil {
			return err
		}
		own = p
	}
	c.mu.Lock()
	owner := c.info.TechnicianID
	c.mu.Unlock()
	var mode org.ChatMode
	switch {
	case owner == 0:
	case !c.isCustomer() && owner == c.viewer.ID:
		mode = own.ChatMode()
	default:
		p, err := s.sessions.Permissions(ctx, owner)
		if err != nil {
			return err
		}
		mode = p.ChatMode()
	}
	c.mu.Lock()
	c.perms, c.chatMode = own, mode
	c.mu.Unlock()
	return nil
}

// sessionView is what an action is checked against.
type sessionView struct {
	info     SessionInfo
	role     Role
	perms    org.Permissions
	chatMode org.ChatMode
}

// view returns the session as of the last state change, reloading it when
// a state was pushed since.
//
// The reader and the writer both call it. One reloads at a time, and the
// other waits for that reload: otherwise the second, finding stale
// already cleared, acted on the view from before the change (a customer
// who chatted as soon as "Active" arrived was told chat had not opened).
func (c *conn) view(ctx context.Context) (sessionView, error) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.mu.Lock()
	stale := c.stale
	c.stale = false
	c.mu.Unlock()
	if stale {
		if err := c.reload(ctx); err != nil {
			c.mu.Lock()
			c.stale = true
			c.mu.Unlock()
			return sessionView{}, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return sessionView{info: c.info, role: c.role, perms: c.perms, chatMode: c.chatMode}, nil
}

func (c *conn) reload(ctx context.Context) error {
	s := c.srv
	var info SessionInfo
	role := Role("")
	var err error
	if c.isCustomer() {
		info, err = s.sessions.Customer(ctx, c.secret)
	} else {
		info, role, err = s.sessions.Technician(ctx, c.sessionID, c.viewer.ID)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.info, c.role = info, role
	c.mu.Unlock()
	return c.loadPermissions(ctx)
}

// start fixes the resume point; the first call wins.
func (c *conn) start(after int64) {
	c.startOnce.Do(func() {
		c.resumeAfter = after
		close(c.ready)
	})
}

// maxHints bounds the messages a socket keeps between two catch-ups.
const maxHints = 32

func (c *conn) hint(m *published) {
	c.hintMu.Lock()
	if len(c.hints) < maxHints {
		c.hints = append(c.hints, m)
	} else {
		c.mustRead = true
	}
	c.hintMu.Unlock()
	c.poke()
}

func (c *conn) wakeUp() {
	c.hintMu.Lock()
	c.mustRead = true
	c.hintMu.Unlock()
	c.poke()
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) pushState(state string) {
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
	c.send(stateFrame{Type: TypeState, State: state})
	c.poke()
}

// recheck reloads the session after a state change before anything more is
// sent: a technician transferred away (or a customer whose secret no longer
// opens the session) is closed with 4004 and reads nothing further.
func (c *conn) recheck() error {
	c.mu.Lock()
	stale := c.stale
	c.mu.Unlock()
	if !stale {
		return nil
	}
	_, err := c.view(c.ctx)
	switch {
	case err == nil:
		return nil
	case fault.IsKind(err, fault.Forbidden), fault.IsKind(err, fault.NotFound), fault.IsKind(err, fault.Unauthorized):
		c.closeWait(CloseNotAllowed, "no longer in this session")
		return err
	default:
		if c.ctx.Err() == nil {
			c.srv.logger.Error("relay reload session", "session", c.sessionID, "error", err)
		}
		return nil
	}
}

func (c *conn) endSession() {
	c.ended.Store(true)
	c.wakeUp()
}

// send queues a control frame; a socket whose queue is full is too slow and
// is dropped rather than making anyone wait.
func (c *conn) send(frame any) {
	b, err := json.Marshal(frame)
	if err != nil {
		c.srv.logger.Error("encode frame", "error", err)
		return
	}
	select {
	case c.ctrl <- b:
	default:
		c.drop()
	}
}

// drop takes a socket that does not keep up out of the session at once, so
// nobody waits for it again, and closes it (4003); the client resumes.
func (c *conn) drop() {
	c.srv.hub.leave(c)
	c.close(CloseTooSlow, "too slow: resume")
}

// deliverBinary hands a relayed frame to this (receiving) socket, waiting
// at most SlowConsumerTimeout for room; a receiver that stays full is
// dropped so that the sender and the other receivers go on. The queue takes
// a reference to the frame when it is delivered.
func (c *conn) deliverBinary(ctx context.Context, f *binFrame) bool {
	f.retain()
	select {
	case c.bin <- f:
		return true
	default:
	}
	t := time.NewTimer(c.srv.limits.SlowConsumerTimeout)
	defer t.Stop()
	select {
	case c.bin <- f:
		return true
	case <-t.C:
		c.drop()
	case <-c.ctx.Done():
	case <-ctx.Done():
	}
	f.release()
	return false
}

// close starts the closing handshake without waiting for it; the reader
// sees the peer's answer (or the timeout) and ends the connection.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() { go c.ws.Close(code, reason) }) //nolint:errcheck // the reader reports the end
}

// closeWait closes the socket with a code and waits for the handshake; the
// writer uses it so that its own exit does not cut the close frame short.
func (c *conn) closeWait(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() { _ = c.ws.Close(code, reason) })
}

func (c *conn) run() {
	s := c.srv
	s.active.Add(1)
	if c.isCustomer() {
		lock := &s.customerLocks[c.sessionID%int64(len(s.customerLocks))]
		lock.Lock()
		if old := s.hub.join(c); old != nil {
			old.close(CloseReplaced, "replaced by a newer connection")
		}
		// And on the other hub nodes, where the customer's previous socket
		// may still be open.
		s.hub.send(Wake{Kind: WakeCustomer, SessionID: c.sessionID, Opened: c.opened})
		ctx, cancel := detach(c.ctx, 10*time.Second)
		if err := s.sessions.CustomerConnected(ctx, c.sessionID); err != nil {
			s.logger.Error("customer connected", "session", c.sessionID, "error", err)
		}
		cancel()
		lock.Unlock()
	} else if old := s.hub.join(c); old != nil {
		old.close(CloseReplaced, "replaced by a newer connection")
	}
	// The session was loaded before this socket joined the hub, so a change
	// in between (a pick-up, the end) was pushed to nobody here: reload it
	// now, and end the socket at once if the session ended meanwhile.
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
	if v, err := c.view(c.ctx); err == nil && !v.info.Live {
		c.endSession()
	}
	if b := s.hub.binaries; b != nil {
		b.Sync()
	}
	c.wg.Add(2)
	go c.writeLoop()
	go c.keepAlive()
	c.readLoop()
	c.finish()
}

func (c *conn) finish() {
	s := c.srv
	defer s.active.Done() // last: Shutdown waits for the disconnect to be recorded
	c.cancel()
	c.wg.Wait()
	c.ws.CloseNow() //nolint:errcheck // already closed in most cases
	ctx, cancel := detach(context.Background(), 10*time.Second)
	defer cancel()
	c.flushTransmitted(ctx)
	if !c.isCustomer() {
		s.hub.leave(c)
		return
	}
	lock := &s.customerLocks[c.sessionID%int64(len(s.customerLocks))]
	lock.Lock()
	defer lock.Unlock()
	s.hub.leave(c)
	// A newer socket may have connected while this one was being dropped.
	if c.replaced.Load() || c.ended.Load() || s.hub.other(c) {
		return
	}
	if err := s.sessions.CustomerDisconnected(ctx, c.sessionID); err != nil {
		s.logger.Error("customer disconnected", "session", c.sessionID, "error", err)
	}
}

func (c *conn) readLoop() {
	for {
		typ, r, err := c.ws.Reader(c.ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st == -1 && !errors.Is(err, context.Canceled) {
				c.srv.logger.Debug("relay socket read", "session", c.sessionID, "error", err)
			}
			return
		}
		bp := frameBufs.Get().(*[]byte)
		data, err := readAll(r, (*bp)[:0])
		*bp = data
		if err != nil {
			*bp = data[:0]
			frameBufs.Put(bp)
			return
		}
		if typ == websocket.MessageBinary {
			// The frame keeps the buffer until its receivers wrote it.
			c.relayBinary(newBinFrame(bp))
			continue
		}
		c.arrived = time.Now()
		c.handleText(data)
		*bp = data[:0]
		frameBufs.Put(bp)
	}
}

func (c *conn) writeLoop() {
	defer c.wg.Done()
	defer c.cancel()
	t := time.NewTimer(c.srv.limits.ResumeWait)
	select {
	case <-c.ready:
	case <-t.C:
		c.start(0)
	case <-c.ctx.Done():
		t.Stop()
		return
	}
	t.Stop()
	c.cursor = c.resumeAfter
	if c.writeHello() != nil || c.readLog() != nil {
		return
	}
	for {
		select {
		case <-c.ctx.Done():
			return
		case b := <-c.ctrl:
			if c.write(websocket.MessageText, b) != nil {
				return
			}
		case f := <-c.bin:
			err := c.write(websocket.MessageBinary, f.data())
			f.release()
			if err != nil {
				return
			}
		case <-c.wake:
			if c.recheck() != nil || c.catchUp() != nil {
				return
			}
			if c.ended.Load() {
				c.closeWait(CloseEnded, "session ended")
				return
			}
		}
	}
}

// write sends one frame. A peer that has not taken it within WriteTimeout
// is too slow: the socket is cancelled (and closed), and the peer resumes
// once it reconnects. Only the writer writes, so one timer serves.
func (c *conn) write(typ websocket.MessageType, b []byte) error {
	c.writeTimer.Reset(c.srv.limits.WriteTimeout)
	err := c.ws.Write(c.ctx, typ, b)
	c.writeTimer.Stop()
	return err
}

func (c *conn) writeHello() error {
	v, err := c.view(c.ctx)
	if err != nil {
		return err
	}
	last, err := c.srv.log.LastSeq(c.ctx, c.sessionID)
	if err != nil {
		c.srv.logger.Error("relay hello", "session", c.sessionID, "error", err)
		return err
	}
	enabled := false
	if v.chatMode != "" {
		if enabled, err = c.srv.log.ChatEnabled(c.ctx, c.sessionID, v.chatMode); err != nil {
			c.srv.logger.Error("relay hello", "session", c.sessionID, "error", err)
			return err
		}
	}
	role := string(v.role)
	if c.isCustomer() {
		role = string(SenderCustomer)
	}
	b, _ := json.Marshal(helloFrame{
		Type: TypeHello, SessionID: c.sessionID, Role: role, State: v.info.State,
		ResumeAfter: c.resumeAfter, LastSeq: last, ChatEnabled: enabled, ChatMode: string(v.chatMode),
	})
	return c.write(websocket.MessageText, b)
}

// catchUp sends every message after the cursor that this side may see. The
// messages the relay published since the last catch-up are sent as they are
// when they follow the cursor without a gap; anything else (a wake-up
// without a message, a gap, a message from another node) reads the log.
func (c *conn) catchUp() error {
	c.hintMu.Lock()
	hints, mustRead := c.hints, c.mustRead
	c.hints, c.spare, c.mustRead = c.spare, nil, false
	c.hintMu.Unlock()
	defer func() {
		clear(hints)
		c.hintMu.Lock()
		c.spare = hints[:0]
		c.hintMu.Unlock()
	}()
	slices.SortFunc(hints, func(a, b *published) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, m := range hints {
		if m.Seq <= c.cursor {
			continue
		}
		if m.Seq != c.cursor+1 {
			mustRead = true
			break
		}
		if c.viewer.CanSee(m.Message) {
			b, err := m.encoded()
			if err != nil {
				return err
			}
			if err := c.write(websocket.MessageText, b); err != nil {
				return err
			}
		}
		c.cursor = m.Seq
	}
	if !mustRead {
		return nil
	}
	return c.readLog()
}

func (c *conn) readLog() error {
	batch := c.srv.limits.CatchUpBatch
	for {
		msgs, err := c.srv.log.After(c.ctx, c.sessionID, c.cursor, c.viewer, batch)
		if err != nil {
			if c.ctx.Err() == nil {
				c.srv.logger.Error("relay catch-up", "session", c.sessionID, "error", err)
			}
			return err
		}
		for _, m := range msgs {
			if err := c.writeMessage(m); err != nil {
				return err
			}
			c.cursor = m.Seq
		}
		if len(msgs) < batch {
			return nil
		}
	}
}

func (c *conn) writeMessage(m Message) error {
	b, err := json.Marshal(messageFrame{Type: TypeMessage, Message: m})
	if err != nil {
		return err
	}
	return c.write(websocket.MessageText, b)
}

func (c *conn) keepAlive() {
	defer c.wg.Done()
	ping := time.NewTicker(c.srv.limits.PingInterval)
	defer ping.Stop()
	flush := time.NewTicker(c.srv.limits.TransmittedFlush)
	defer flush.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ping.C:
			ctx, cancel := context.WithTimeout(c.ctx, c.srv.limits.PingTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				c.cancel()
				return
			}
		case <-flush.C:
			c.flushTransmitted(c.ctx)
		}
	}
}

func (c *conn) flushTransmitted(ctx context.Context) {
	n := c.transmitted.Swap(0)
	if n == 0 {
		return
	}
	if err := c.srv.sessions.AddTransmitted(ctx, c.sessionID, n); err != nil {
		c.transmitted.Add(n)
		if ctx.Err() == nil {
			c.srv.logger.Error("add transmitted bytes", "session", c.sessionID, "error", err)
		}
	}
}

// sendError reports a refused frame; ref is its client_msg_id or type.
func (c *conn) sendError(ref string, err error) {
	fe, ok := fault.As(err)
	if !ok {
		c.srv.logger.Error("relay action failed", "session", c.sessionID, "sender", c.viewer.Kind, "sender_id", c.viewer.ID, "ref", ref, "error", err)
		fe = fault.New(0, "internal", "The message could not be handled; send it again.")
	}
	frame := errorFrame{Type: TypeError, Code: fe.Code, Message: fe.Message, Ref: ref}
	if len(fe.Fields) > 0 {
		keys := slices.Sorted(maps.Keys(fe.Fields))
		frame.Field = keys[0]
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + fe.Fields[k]
		}
		frame.Message = strings.Join(parts, "; ")
	}
	c.send(frame)
}
