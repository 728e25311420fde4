package applet

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Message is one entry of the session's log as the customer sees it.
type Message struct {
	Seq         int64           `json:"seq"`
	SessionID   int64           `json:"session_id"`
	Kind        string          `json:"kind"`        // chat, system, url, file_offer, file_accept, file_done, chat_toggle, collab
	SenderKind  string          `json:"sender_kind"` // customer, technician or system
	SenderID    int64           `json:"sender_id"`   // the technician's member ID; 0 for the customer and the system
	Audience    string          `json:"audience"`
	Body        string          `json:"body"`
	Payload     json.RawMessage `json:"payload"`
	CreatedAt   time.Time       `json:"created_at"`
	ClientMsgID string          `json:"client_msg_id,omitempty"`
}

// Link reports the relay connection going down (with the reason) or coming
// back after a reconnection.
type Link struct {
	Up  bool
	Err error
}

// Why a Conn stopped; Conn.Err returns one of these (possibly wrapped).
var (
	ErrEnded    = errors.New("the session has ended")
	ErrClosed   = errors.New("the connection was closed")
	ErrReplaced = errors.New("a newer connection of this customer took over the session")
	ErrRemoved  = errors.New("this connection no longer opens the session")
)

// RelayError is a frame the relay refused; nothing was stored.
type RelayError struct {
	Code    string // e.g. chat_unavailable, forbidden, validation_failed
	Message string
	Field   string
}

func (e *RelayError) Error() string { return e.Message }

// Close codes of the relay (docs/relay-protocol.md).
const (
	closeReplaced    = 4001
	closeEnded       = 4002
	closeNotAllowed  = 4004
	closeRateLimited = 4008
)

const (
	writeTimeout = 10 * time.Second
	pingTimeout  = 10 * time.Second
	dialTimeout  = 15 * time.Second
	retryRefused = time.Second // after an "internal" or "rate_limited" refusal
)

// Conn is the customer's relay connection. It reconnects by itself after a
// drop, resuming after the highest seq received and re-sending every chat
// not yet acknowledged with its original client_msg_id, so the caller sees
// each message once and each sent line is stored once.
//
// Read Messages until it is closed; States and Links keep only their most
// recent values when nobody reads them.
type Conn struct {
	client   *Client
	secret   string
	idPrefix string

	msgs   chan Message
	states chan string
	links  chan Link

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed

	wmu sync.Mutex // orders writes: re-sent chats go out before newer ones

	mu       sync.Mutex
	ws       *websocket.Conn // nil while disconnected or before hello
	lastSeq  int64
	state    string
	next     int64
	pending  map[string]*outgoing
	order    []*outgoing // pending, in the order sent
	closing  bool
	finished bool
}

type outgoing struct {
	id      string
	frame   []byte
	done    chan result // capacity 1
	settled bool
}

type result struct {
	seq int64
	err error
}

// frame is any JSON frame the relay sends.
type frame struct {
	Type string `json:"type"`
	Message
	Code     string `json:"code"`
	ErrorMsg string `json:"message"`
	Ref      string `json:"ref"`
	Field    string `json:"field"`
	State    string `json:"state"`
	LastSeq  int64  `json:"last_seq"`
}

// Connect opens the relay connection of the joined session. ctx bounds the
// first connection only; the Conn lives until Close or the end of the
// session. A session that has already ended answers an error that is
// ErrEnded.
func (c *Client) Connect(ctx context.Context) (*Conn, error) {
	secret := c.Secret()
	if secret == "" {
		return nil, errors.New("connect to the relay: not joined to a session")
	}
	var b [6]byte
	if _, err := crand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("connect to the relay: %w", err)
	}
	cn := &Conn{
		client: c, secret: secret, idPrefix: "applet-" + hex.EncodeToString(b[:]),
		msgs: make(chan Message, 64), states: make(chan string, 8), links: make(chan Link, 8),
		done: make(chan struct{}), pending: map[string]*outgoing{},
	}
	ws, err := cn.dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the relay: %w", endedOr(err))
	}
	cn.ctx, cn.cancel = context.WithCancel(context.Background())
	go cn.run(ws)
	return cn, nil
}

// Messages delivers every message of the session log the customer may see,
// from the start, each exactly once and in seq order: the customer's own
// chat lines too, once stored. It is closed when the Conn stops.
func (cn *Conn) Messages() <-chan Message { return cn.msgs }

// States delivers the session's state names as the relay reports them
// (waiting, active, on_hold ..., closed). It is closed when the Conn stops.
func (cn *Conn) States() <-chan string { return cn.states }

// Links delivers the connection going down and coming back. It is closed
// when the Conn stops.
func (cn *Conn) Links() <-chan Link { return cn.links }

// Done is closed when the Conn has stopped: the session ended, Close was
// called, or the relay refused the connection for good. Err says which.
func (cn *Conn) Done() <-chan struct{} { return cn.done }

// Err is why the Conn stopped (ErrEnded, ErrClosed, ErrReplaced, ErrRemoved
// or a refusal from the hub), or nil while it runs.
func (cn *Conn) Err() error {
	select {
	case <-cn.done:
		return cn.err
	default:
		return nil
	}
}

// LastSeq is the highest seq received so far.
func (cn *Conn) LastSeq() int64 {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.lastSeq
}

// Send sends a chat line and waits until the relay has stored it, returning
// its seq. While the connection is down the line waits and goes out on
// reconnection; it is never stored twice. A refusal is a *RelayError (for
// example chat_unavailable before a technician picked the session up).
func (cn *Conn) Send(ctx context.Context, text string) (int64, error) {
	if text == "" {
		return 0, errors.New("send chat: empty text")
	}
	cn.mu.Lock()
	if cn.finished {
		cn.mu.Unlock()
		return 0, fmt.Errorf("send chat: %w", cn.err)
	}
	cn.next++
	id := cn.idPrefix + "-" + strconv.FormatInt(cn.next, 10)
	b, err := json.Marshal(map[string]string{"type": "chat", "client_msg_id": id, "text": text})
	if err != nil {
		cn.mu.Unlock()
		return 0, err
	}
	o := &outgoing{id: id, frame: b, done: make(chan result, 1)}
	cn.pending[id] = o
	cn.order = append(cn.order, o)
	ws := cn.ws
	cn.mu.Unlock()
	if ws != nil {
		cn.wmu.Lock()
		cn.write(ws, o.frame)
		cn.wmu.Unlock()
	}
	select {
	case r := <-o.done:
		if r.err != nil {
			return 0, fmt.Errorf("send chat: %w", r.err)
		}
		return r.seq, nil
	case <-ctx.Done():
		cn.mu.Lock()
		cn.settle(o, result{err: ctx.Err()})
		cn.mu.Unlock()
		return 0, ctx.Err()
	}
}

// Close closes the connection; the session goes on (Client.Close ends it).
func (cn *Conn) Close() error {
	cn.mu.Lock()
	cn.closing = true
	ws := cn.ws
	cn.mu.Unlock()
	if ws != nil {
		done := make(chan struct{})
		go func() {
			ws.Close(websocket.StatusNormalClosure, "customer left") //nolint:errcheck // closing either way
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
	cn.cancel()
	<-cn.done
	return nil
}

func (cn *Conn) dial(ctx context.Context) (*websocket.Conn, error) {
	u, err := cn.client.endpoint("/api/v1/relay/customer")
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	cn.mu.Lock()
	u.RawQuery = "resume_after=" + strconv.FormatInt(cn.lastSeq, 10)
	cn.mu.Unlock()
	ws, resp, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient: cn.client.httpClient(),
		HTTPHeader: http.Header{"Authorization": {"Bearer " + cn.secret}},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			raw, _ := io.ReadAll(resp.Body)
			return nil, decodeError(resp.StatusCode, resp.Status, raw)
		}
		return nil, err
	}
	ws.SetReadLimit(2 << 20)
	return ws, nil
}

// endedOr turns the relay's "session ended" refusal into ErrEnded.
func endedOr(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code == "session_ended" {
		return fmt.Errorf("%w: %w", ErrEnded, err)
	}
	return err
}

// refusedForGood reports whether a refused dial is not worth retrying:
// the secret is unknown, the session ended, or the request is wrong.
func refusedForGood(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Status != http.StatusRequestTimeout
}

func (cn *Conn) run(ws *websocket.Conn) {
	defer cn.finish()
	for {
		err := cn.serve(ws)
		if stop := cn.stopReason(err); stop != nil {
			cn.err = stop
			return
		}
		cn.offerLink(Link{Up: false, Err: err})
		attempt := 0
		if websocket.CloseStatus(err) == closeRateLimited {
			attempt = 32 // start at the longest wait
		}
		if ws = cn.reconnect(attempt); ws == nil {
			return
		}
		cn.offerLink(Link{Up: true})
	}
}

// stopReason says whether a socket that stopped with err ends the Conn.
func (cn *Conn) stopReason(err error) error {
	cn.mu.Lock()
	closing := cn.closing
	cn.mu.Unlock()
	if closing || cn.ctx.Err() != nil {
		return ErrClosed
	}
	switch websocket.CloseStatus(err) {
	case closeEnded:
		return ErrEnded
	case closeReplaced:
		return ErrReplaced
	case closeNotAllowed:
		return ErrRemoved
	}
	return nil
}

// reconnect dials until it succeeds, backing off from MinBackoff to
// MaxBackoff; it returns nil (with cn.err set) when the Conn must stop.
func (cn *Conn) reconnect(attempt int) *websocket.Conn {
	for ; ; attempt++ {
		t := time.NewTimer(cn.backoff(attempt))
		select {
		case <-t.C:
		case <-cn.ctx.Done():
			t.Stop()
			cn.err = ErrClosed
			return nil
		}
		ctx, cancel := context.WithTimeout(cn.ctx, dialTimeout)
		ws, err := cn.dial(ctx)
		cancel()
		switch {
		case err == nil:
			return ws
		case cn.ctx.Err() != nil:
			cn.err = ErrClosed
			return nil
		case refusedForGood(err):
			cn.err = endedOr(err)
			return nil
		}
	}
}

// backoff doubles from MinBackoff up to MaxBackoff, with up to 20% jitter
// so that customers of a restarted hub do not all come back at once.
func (cn *Conn) backoff(attempt int) time.Duration {
	lo, hi := cn.client.MinBackoff, cn.client.MaxBackoff
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 5 * time.Second
	}
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// serve reads one socket until it fails; the error says why.
func (cn *Conn) serve(ws *websocket.Conn) error {
	ctx, stop := context.WithCancel(cn.ctx)
	defer stop()
	defer ws.CloseNow() //nolint:errcheck // already closed in most cases
	go cn.keepAlive(ctx, ws)
	defer func() {
		cn.mu.Lock()
		if cn.ws == ws {
			cn.ws = nil
		}
		cn.mu.Unlock()
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			continue // not ours to judge; the protocol lets servers grow
		}
		switch f.Type {
		case "hello":
			cn.setState(f.State)
			cn.resend(ws)
		case "message":
			if !cn.deliver(ctx, f.Message) {
				return ctx.Err()
			}
		case "ack":
			cn.mu.Lock()
			if o := cn.pending[f.ClientMsgID]; o != nil {
				cn.settle(o, result{seq: f.Seq})
			}
			cn.mu.Unlock()
		case "error":
			cn.refused(ws, f)
		case "state":
			cn.setState(f.State)
		}
	}
}

// resend makes ws the current socket and re-sends, in order, every chat
// not yet acknowledged; the relay answers a known client_msg_id with the
// stored seq instead of storing it again.
func (cn *Conn) resend(ws *websocket.Conn) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	cn.mu.Lock()
	cn.ws = ws
	batch := slices.Clone(cn.order)
	cn.mu.Unlock()
	for _, o := range batch {
		cn.write(ws, o.frame)
	}
}

// deliver hands m to the caller unless it was seen already.
func (cn *Conn) deliver(ctx context.Context, m Message) bool {
	cn.mu.Lock()
	if m.Seq <= cn.lastSeq {
		cn.mu.Unlock()
		return true
	}
	cn.lastSeq = m.Seq
	if m.SenderKind == "customer" && m.ClientMsgID != "" {
		if o := cn.pending[m.ClientMsgID]; o != nil {
			cn.settle(o, result{seq: m.Seq})
		}
	}
	cn.mu.Unlock()
	select {
	case cn.msgs <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

func (cn *Conn) refused(ws *websocket.Conn, f frame) {
	cn.mu.Lock()
	o := cn.pending[f.Ref]
	if o == nil {
		cn.mu.Unlock()
		return
	}
	if f.Code == "internal" || f.Code == "rate_limited" {
		cn.mu.Unlock()
		time.AfterFunc(retryRefused, func() {
			cn.mu.Lock()
			again := !o.settled && cn.ws == ws
			cn.mu.Unlock()
			if again {
				cn.wmu.Lock()
				cn.write(ws, o.frame)
				cn.wmu.Unlock()
			}
		})
		return
	}
	cn.settle(o, result{err: &RelayError{Code: f.Code, Message: f.ErrorMsg, Field: f.Field}})
	cn.mu.Unlock()
}

// settle answers a pending Send once; call with mu held.
func (cn *Conn) settle(o *outgoing, r result) {
	if o.settled {
		return
	}
	o.settled = true
	delete(cn.pending, o.id)
	cn.order = slices.DeleteFunc(cn.order, func(p *outgoing) bool { return p == o })
	o.done <- r
}

// write sends a frame; call with wmu held. A failed write is not reported:
// the reader sees the broken socket and the chat is re-sent after reconnecting.
func (cn *Conn) write(ws *websocket.Conn, b []byte) {
	ctx, cancel := context.WithTimeout(cn.ctx, writeTimeout)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		ws.CloseNow() //nolint:errcheck // the reader reconnects
	}
}

func (cn *Conn) keepAlive(ctx context.Context, ws *websocket.Conn) {
	every := cn.client.Keepalive
	if every < 0 {
		return
	}
	if every == 0 {
		every = 20 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := ws.Ping(pctx)
			cancel()
			if err != nil {
				ws.CloseNow() //nolint:errcheck // the reader reconnects
				return
			}
		}
	}
}

func (cn *Conn) setState(s string) {
	if s == "" {
		return
	}
	cn.mu.Lock()
	changed := s != cn.state
	cn.state = s
	cn.mu.Unlock()
	if changed {
		offer(cn.states, s)
	}
}

func (cn *Conn) offerLink(l Link) { offer(cn.links, l) }

// offer sends v without blocking, dropping the oldest value when the
// channel is full: only the reader goroutine sends on these channels.
func offer[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (cn *Conn) finish() {
	cn.mu.Lock()
	cn.finished = true
	cn.ws = nil
	for _, o := range slices.Clone(cn.order) {
		cn.settle(o, result{err: cn.err})
	}
	cn.mu.Unlock()
	close(cn.msgs)
	close(cn.states)
	close(cn.links)
	cn.cancel()
	close(cn.done)
}
