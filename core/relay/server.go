package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// Config wires a Server.
type Config struct {
	DB       *bun.DB
	Log      *Log           // nil: NewLog(DB, nil, Now)
	Hub      *Hub           // nil: NewHub()
	Collab   *Collaboration // nil: NewCollaboration(Log)
	Sessions Sessions
	// AuthenticateTechnician returns the technician behind a request (the
	// API's bearer-token check); a fault Unauthorized refuses it.
	AuthenticateTechnician func(r *http.Request) (technicianID int64, err error)
	Logger                 hclog.Logger
	Limits                 Limits
	Now                    func() time.Time
	// OriginPatterns are the cross-origin hosts browsers may connect from
	// (coder/websocket AcceptOptions); same-origin is always allowed.
	OriginPatterns []string
	// Registry, when set, gets the relay's metrics
	// (tether_relay_message_store_seconds).
	Registry prometheus.Registerer
}

// Server serves the relay's two websocket endpoints.
type Server struct {
	db       *bun.DB
	log      *Log
	hub      *Hub
	collab   *Collaboration
	sessions Sessions
	authTech func(r *http.Request) (int64, error)
	logger   hclog.Logger
	limits   Limits
	now      func() time.Time
	origins  []string

	storeSeconds *prometheus.HistogramVec

	// active counts sockets from run() until their finish() has recorded
	// everything; Shutdown waits for it.
	active sync.WaitGroup

	// customerLocks order CustomerConnected and CustomerDisconnected of one
	// session when a new socket replaces a dropping one.
	customerLocks [64]sync.Mutex
}

// NewServer checks cfg and fills its defaults.
func NewServer(cfg Config) (*Server, error) {
	if cfg.DB == nil || cfg.Sessions == nil || cfg.AuthenticateTechnician == nil {
		return nil, errors.New("relay: DB, Sessions and AuthenticateTechnician are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = NewLog(cfg.DB, nil, cfg.Now)
	}
	if cfg.Hub == nil {
		cfg.Hub = NewHub()
	}
	if cfg.Collab == nil {
		cfg.Collab = NewCollaboration(cfg.Log)
	}
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	s := &Server{
		db: cfg.DB, log: cfg.Log, hub: cfg.Hub, collab: cfg.Collab, sessions: cfg.Sessions,
		authTech: cfg.AuthenticateTechnician, logger: cfg.Logger.Named("relay"),
		limits: cfg.Limits.withDefaults(), now: cfg.Now, origins: cfg.OriginPatterns,
		storeSeconds: newStoreSeconds(),
	}
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(s.storeSeconds); err != nil {
			return nil, fmt.Errorf("relay: register metrics: %w", err)
		}
	}
	s.hub.whenEnded(s.log.forget)
	s.hub.whenNotified(s.log.toggles.drop)
	return s, nil
}

// Hub is where core/sessions reports transitions (Notify, PushState, End).
func (s *Server) Hub() *Hub { return s.hub }

// Apply does on this node's sockets what another hub node's Hub forwarded
// (Hub.Forward), without forwarding it again.
func (s *Server) Apply(w Wake) {
	switch w.Kind {
	case WakeNotify:
		if m := w.Message; m != nil && m.SessionID == w.SessionID {
			s.log.keepRemoteText(*m)
			if m.Kind == KindChatToggle {
				s.log.toggles.drop(m.SessionID)
			}
			s.hub.hintAll(*m)
			return
		}
		s.hub.notify(w.SessionID)
	case WakeState:
		s.hub.pushState(w.SessionID, w.State)
		if strings.EqualFold(w.State, reconnectingState) {
			s.customerStillHere(w.SessionID)
		}
	case WakeEnd:
		s.hub.end(w.SessionID)
	case WakeCustomer:
		s.customerMoved(w.SessionID, w.Opened)
	}
}

// ShareBinaries makes b carry binary frames between this node's sockets and
// the other hub nodes'. Call it before the server takes any socket.
func (s *Server) ShareBinaries(b Binaries) { s.hub.shareBinaries(b) }

// DeliverRemote hands a binary frame another node's socket sent to this
// node's sockets of the session's side to, and reports whether one took
// it. The frame's bytes are added to the session's transmitted bytes here.
func (s *Server) DeliverRemote(sessionID int64, to SenderKind, frame []byte) bool {
	conns := s.hub.side(sessionID, to)
	if len(conns) == 0 || len(frame) == 0 {
		return false
	}
	bp := frameBufs.Get().(*[]byte)
	*bp = append((*bp)[:0], frame...)
	f := newBinFrame(bp)
	defer f.release()
	var counted *conn
	for _, c := range conns {
		if c.deliverBinary(c.ctx, f) && counted == nil {
			counted = c
		}
	}
	if counted == nil {
		return false
	}
	counted.transmitted.Add(int64(len(frame)))
	return true
}

// DropRemoteSide drops this node's sockets of the session's side to, for
// which binary frames from another node were lost on the way: like a
// receiver too slow for its own queue, they are closed with 4003 and
// resume, rather than show a screen stream with a gap.
func (s *Server) DropRemoteSide(sessionID int64, to SenderKind) {
	for _, c := range s.hub.side(sessionID, to) {
		c.drop()
	}
}

// reconnectingState is the state core/sessions names Reconnecting by.
const reconnectingState = "reconnecting"

// customerMoved closes this node's customer socket of the session, which
// a socket opened on another node at opened replaced; its drop is not a
// disconnect. A socket opened here later than that stays.
func (s *Server) customerMoved(sessionID int64, opened time.Time) {
	lock := &s.customerLocks[sessionID%int64(len(s.customerLocks))]
	lock.Lock()
	var stale []*conn
	for _, c := range s.hub.conns(sessionID) {
		if c.isCustomer() && c.opened.Before(opened) {
			c.replaced.Store(true)
			s.hub.leave(c)
			stale = append(stale, c)
		}
	}
	lock.Unlock()
	for _, c := range stale {
		c.close(CloseReplaced, "replaced by a newer connection")
	}
}

// customerStillHere answers another node that recorded the customer's drop
// (an older socket of theirs that went after this node's newer one opened):
// the customer is connected here, so the session is Active again.
func (s *Server) customerStillHere(sessionID int64) {
	for _, c := range s.hub.conns(sessionID) {
		if !c.isCustomer() {
			continue
		}
		go func() {
			lock := &s.customerLocks[sessionID%int64(len(s.customerLocks))]
			lock.Lock()
			defer lock.Unlock()
			if c.replaced.Load() || c.ended.Load() || c.ctx.Err() != nil {
				return
			}
			ctx, cancel := detach(c.ctx, 10*time.Second)
			defer cancel()
			if err := s.sessions.CustomerConnected(ctx, sessionID); err != nil {
				s.logger.Error("customer connected", "session", sessionID, "error", err)
			}
		}()
	}
}

// Log is the message log.
func (s *Server) Log() *Log { return s.log }

// Collaboration is the collaborator store.
func (s *Server) Collaboration() *Collaboration { return s.collab }

// CustomerHandler serves GET /api/v1/relay/customer, authenticated by the
// session secret (Authorization: Bearer <secret>, or ?access_token= for
// browsers, which cannot set headers on websockets).
func (s *Server) CustomerHandler() http.Handler { return http.HandlerFunc(s.serveCustomer) }

// TechnicianHandler serves GET /api/v1/relay/sessions/{id}, authenticated
// by Config.AuthenticateTechnician. The session ID is the {id} path value,
// or the last path segment when the router sets none.
func (s *Server) TechnicianHandler() http.Handler { return http.HandlerFunc(s.serveTechnician) }

func (s *Server) serveCustomer(w http.ResponseWriter, r *http.Request) {
	secret := bearer(r)
	if secret == "" {
		writeHTTPError(w, fault.New(fault.Unauthorized, "unauthorized", "A session secret is required."))
		return
	}
	resume, hasResume, err := resumeParam(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	info, err := s.sessions.Customer(r.Context(), secret)
	if err != nil {
		s.refuse(w, err)
		return
	}
	if !info.Live {
		writeHTTPError(w, errEnded(info.ID))
		return
	}
	c := s.newConn(info.ID, CustomerViewer(), "")
	c.secret = secret
	c.info = info
	if err := c.loadPermissions(r.Context()); err != nil {
		s.refuse(w, err)
		return
	}
	s.serve(w, r, c, resume, hasResume)
}

func (s *Server) serveTechnician(w http.ResponseWriter, r *http.Request) {
	techID, err := s.authTech(r)
	if err != nil {
		s.refuse(w, err)
		return
	}
	sessionID, err := pathSessionID(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	resume, hasResume, err := resumeParam(r)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	info, role, err := s.sessions.Technician(r.Context(), sessionID, techID)
	if err != nil {
		s.refuse(w, err)
		return
	}
	if !info.Live {
		writeHTTPError(w, errEnded(info.ID))
		return
	}
	c := s.newConn(info.ID, TechnicianViewer(techID), role)
	c.info = info
	if err := c.loadPermissions(r.Context()); err != nil {
		s.refuse(w, err)
		return
	}
	if role == RoleCollaborator {
		msg, joined, err := s.collab.Join(r.Context(), info.ID, techID)
		if err != nil {
			s.refuse(w, err)
			return
		}
		if joined {
			s.hub.publish(msg)
		}
	}
	s.serve(w, r, c, resume, hasResume)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, c *conn, resume int64, hasResume bool) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.origins})
	if err != nil {
		c.cancel()
		s.logger.Debug("websocket upgrade failed", "session", c.sessionID, "error", err)
		return
	}
	ws.SetReadLimit(s.limits.MaxFrameBytes)
	c.ws = ws
	if hasResume {
		c.start(resume)
	}
	c.run()
}

// refuse answers a refused upgrade, logging what is not a plain refusal.
func (s *Server) refuse(w http.ResponseWriter, err error) {
	if _, ok := fault.As(err); !ok {
		s.logger.Error("relay connect failed", "error", err)
	}
	writeHTTPError(w, err)
}

func errEnded(sessionID int64) *fault.Error {
	return fault.New(fault.Conflict, "session_ended", "Session %d has ended.", sessionID)
}

func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return r.URL.Query().Get("access_token")
}

func resumeParam(r *http.Request) (int64, bool, error) {
	v := r.URL.Query().Get("resume_after")
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fault.Field("resume_after", "must be a sequence number (0 or more)")
	}
	return n, true, nil
}

func pathSessionID(r *http.Request) (int64, error) {
	v := r.PathValue("id")
	if v == "" {
		v = r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.Field("id", "must be a session ID")
	}
	return id, nil
}

var statusOf = map[fault.Kind]int{
	fault.Invalid: http.StatusUnprocessableEntity, fault.BadRequest: http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized, fault.Forbidden: http.StatusForbidden,
	fault.NotFound: http.StatusNotFound, fault.Conflict: http.StatusConflict, fault.TooMany: http.StatusTooManyRequests,
}

// writeHTTPError answers before the upgrade with the API's error body.
func writeHTTPError(w http.ResponseWriter, err error) {
	fe, ok := fault.As(err)
	if !ok {
		fe = fault.New(0, "internal", "The relay could not open the session; try again.")
	}
	status := statusOf[fe.Kind]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": fe.Code, "message": fe.Message, "fields": fe.Fields})
}

func detach(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Shutdown closes every socket with "going away" (clients reconnect and
// resume once the hub is back) and waits until each has recorded its
// disconnect (Active -> Reconnecting), so a restart loses no state change.
// Call it after the HTTP server stopped accepting and before the database
// closes.
func (s *Server) Shutdown(ctx context.Context) error {
	s.hub.closeAll(websocket.StatusGoingAway, "the hub is restarting; reconnect and resume")
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("relay shutdown: %d sockets still open: %w", s.hub.connected(), ctx.Err())
	}
}
