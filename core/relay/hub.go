package relay

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Hub knows the sockets connected to each session on this node and wakes
// them. It holds no messages: a woken socket reads what it has not sent yet
// from the log, so a wake-up may be lost, repeated or merged without harm.
// Several hub nodes forward their wake-ups to each other (Forward, and
// Server.Apply on the receiving node) and their binary frames (Binaries,
// and Server.DeliverRemote); core/cluster carries both over NATS.
type Hub struct {
	mu       sync.Mutex
	sessions map[int64]map[*conn]struct{}
	onEnd    []func(sessionID int64)
	onNotify []func(sessionID int64)
	forward  atomic.Pointer[func(Wake)]
	// sides counts this node's sockets of each session's side, for
	// binaries (nil: one node alone).
	sides    map[sideKey]int
	binaries Binaries
}

type sideKey struct {
	session int64
	side    SenderKind
}

// Binaries carries binary frames (screens, file chunks) to the sockets of
// the other hub nodes (core/cluster).
type Binaries interface {
	// Watch is called when this node gets its first socket of a session's
	// side (the customer, or technicians), Unwatch when it loses its last:
	// from then on, until Unwatch, frames for that side reach this node.
	Watch(sessionID int64, side SenderKind)
	Unwatch(sessionID int64, side SenderKind)
	// Sync returns once what Watch started is in effect: a socket's hello
	// waits for it, so that frames sent from other nodes after it arrive.
	Sync()
	// Send hands a frame to the other nodes' sockets of the session's side
	// to. With wait it reports whether one of them took it (within the
	// slow-consumer wait); without, only whether it was sent.
	Send(ctx context.Context, sessionID int64, to SenderKind, frame []byte, wait bool) bool
}

// WakeKind is what a Wake does on the nodes that receive it.
type WakeKind string

const (
	WakeNotify WakeKind = "notify" // read new messages from the log (Notify)
	WakeState  WakeKind = "state"  // the session's state changed (PushState)
	WakeEnd    WakeKind = "end"    // the session ended (End)
	// WakeCustomer: the customer's socket opened on the sending node, so
	// one still open here is stale (a reconnect the load balancer sent
	// elsewhere): it is closed as replaced and its drop changes nothing.
	WakeCustomer WakeKind = "customer"
)

// Wake is one wake-up of this node's Hub, as the other hub nodes apply it
// to their own sockets (Server.Apply).
type Wake struct {
	Kind      WakeKind `json:"kind"`
	SessionID int64    `json:"session_id"`
	State     string   `json:"state,omitempty"`
	// Opened is when the customer's socket of a WakeCustomer opened: only
	// sockets opened before it are stale.
	Opened time.Time `json:"opened,omitzero"`
	// Message is the message a WakeNotify is for, when the relay stored
	// one: a socket whose cursor is just before it sends it without
	// reading the log. A chat text not kept in the log (P2U-3) lives only
	// in the memory of the node that stored it; the others take it from
	// here.
	Message *Message `json:"message,omitempty"`
}

// Forward hands every later wake-up of this Hub to f as well (nil stops):
// what the relay stored and what core/sessions reported. f must not block.
func (h *Hub) Forward(f func(Wake)) {
	if f == nil {
		h.forward.Store(nil)
		return
	}
	h.forward.Store(&f)
}

func (h *Hub) send(w Wake) {
	if f := h.forward.Load(); f != nil {
		(*f)(w)
	}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{sessions: map[int64]map[*conn]struct{}{}} }

// Notify wakes every socket of the session to read new messages from the
// log. core/sessions calls it after committing a transition that appended
// system messages; a multi-node bridge calls it for appends made on other
// nodes. It never blocks.
func (h *Hub) Notify(sessionID int64) {
	h.notify(sessionID)
	h.send(Wake{Kind: WakeNotify, SessionID: sessionID})
}

func (h *Hub) notify(sessionID int64) {
	h.mu.Lock()
	hooks := h.onNotify
	h.mu.Unlock()
	for _, f := range hooks {
		f(sessionID)
	}
	for _, c := range h.conns(sessionID) {
		c.wakeUp()
	}
}

// publish wakes the session's sockets after the relay itself committed m,
// handing them m so that a socket whose last sent seq is m.Seq-1 sends it
// without reading the log; any other socket reads the log as after Notify.
func (h *Hub) publish(m Message) {
	if f := h.forward.Load(); f != nil {
		carried := m // a copy, so that m stays on the stack when nothing is forwarded
		(*f)(Wake{Kind: WakeNotify, SessionID: m.SessionID, Message: &carried})
	}
	h.hintAll(m)
}

// hintAll hands m to the session's sockets on this node.
func (h *Hub) hintAll(m Message) {
	conns := h.conns(m.SessionID)
	if len(conns) == 0 {
		return
	}
	p := &published{Message: m}
	for _, c := range conns {
		c.hint(p)
	}
}

// published is a message handed to the session's sockets, encoded once for
// all of those that send it.
type published struct {
	Message
	once  sync.Once
	frame []byte
	err   error
}

// encoded is the message's frame.
func (p *published) encoded() ([]byte, error) {
	p.once.Do(func() { p.frame, p.err = json.Marshal(messageFrame{Type: TypeMessage, Message: p.Message}) })
	return p.frame, p.err
}

// PushState tells every socket of the session its new state (a "state"
// frame) and makes them reload the session (owner, permissions, liveness)
// before their next action. It never blocks; a socket too slow to take the
// frame is dropped and will resume.
func (h *Hub) PushState(sessionID int64, state string) {
	h.pushState(sessionID, state)
	h.send(Wake{Kind: WakeState, SessionID: sessionID, State: state})
}

func (h *Hub) pushState(sessionID int64, state string) {
	for _, c := range h.conns(sessionID) {
		c.pushState(state)
	}
}

// End closes every socket of an ended session (close code 4002) and forgets
// its in-memory state; all rights end with the session (SEC). Call it after
// the final state and system messages are committed: sockets send what is
// left in the log before closing.
func (h *Hub) End(sessionID int64) {
	h.end(sessionID)
	h.send(Wake{Kind: WakeEnd, SessionID: sessionID})
}

func (h *Hub) end(sessionID int64) {
	for _, c := range h.conns(sessionID) {
		c.endSession()
	}
	h.mu.Lock()
	hooks := h.onEnd
	h.mu.Unlock()
	for _, f := range hooks {
		f(sessionID)
	}
}

// Presence reports who is connected to the session on this node.
func (h *Hub) Presence(sessionID int64) (customer bool, technicians []int64) {
	for _, c := range h.conns(sessionID) {
		if c.viewer.Kind == SenderCustomer {
			customer = true
		} else {
			technicians = append(technicians, c.viewer.ID)
		}
	}
	return customer, technicians
}

// WakeAll wakes every socket on this node to read the log: after a gap in
// the wake-ups from other nodes (their bridge reconnected), nothing they
// stored meanwhile stays unsent. It never blocks.
func (h *Hub) WakeAll() {
	h.mu.Lock()
	ids := make([]int64, 0, len(h.sessions))
	for id := range h.sessions {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		h.notify(id)
	}
}

func (h *Hub) conns(sessionID int64) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.sessions[sessionID]
	out := make([]*conn, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return out
}

// join registers c and returns the socket it replaces: a side (the
// customer, or one technician) has one socket per session, so a client that
// reconnects before its old socket timed out takes over cleanly.
func (h *Hub) join(c *conn) (replaced *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.sessions[c.sessionID]
	if set == nil {
		set = map[*conn]struct{}{}
		h.sessions[c.sessionID] = set
	}
	for old := range set {
		if old.viewer == c.viewer {
			delete(set, old)
			h.counted(old, -1)
			replaced = old
			old.replaced.Store(true)
		}
	}
	set[c] = struct{}{}
	h.counted(c, +1)
	return replaced
}

// counted keeps the count of c's side in its session, telling binaries
// when it leaves or reaches zero. h.mu is held.
func (h *Hub) counted(c *conn, delta int) {
	if h.binaries == nil {
		return
	}
	k := sideKey{c.sessionID, c.viewer.Kind}
	n := h.sides[k] + delta
	switch {
	case n <= 0:
		delete(h.sides, k)
		h.binaries.Unwatch(k.session, k.side)
	case n == 1 && delta > 0:
		h.sides[k] = n
		h.binaries.Watch(k.session, k.side)
	default:
		h.sides[k] = n
	}
}

// shareBinaries makes binaries carry frames to and from the other nodes.
// Call it before any socket joins.
func (h *Hub) shareBinaries(b Binaries) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.binaries = b
	h.sides = map[sideKey]int{}
}

// other reports whether another socket of c's side is in the session.
func (h *Hub) other(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for p := range h.sessions[c.sessionID] {
		if p != c && p.viewer == c.viewer {
			return true
		}
	}
	return false
}

func (h *Hub) leave(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.sessions[c.sessionID]; set != nil {
		if _, ok := set[c]; ok {
			delete(set, c)
			h.counted(c, -1)
		}
		if len(set) == 0 {
			delete(h.sessions, c.sessionID)
		}
	}
}

// side is this node's sockets of the session's side: a binary frame's
// receivers.
func (h *Hub) side(sessionID int64, kind SenderKind) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*conn
	for p := range h.sessions[sessionID] {
		if p.viewer.Kind == kind {
			out = append(out, p)
		}
	}
	return out
}

func (h *Hub) whenNotified(f func(sessionID int64)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onNotify = append(h.onNotify, f)
}

func (h *Hub) whenEnded(f func(sessionID int64)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onEnd = append(h.onEnd, f)
}

// closeAll closes every socket on this node with code and reports how many
// are still connected.
func (h *Hub) closeAll(code websocket.StatusCode, reason string) int {
	h.mu.Lock()
	var all []*conn
	for _, conns := range h.sessions {
		for c := range conns {
			all = append(all, c)
		}
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(code, reason)
	}
	return len(all)
}

func (h *Hub) connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, conns := range h.sessions {
		n += len(conns)
	}
	return n
}
