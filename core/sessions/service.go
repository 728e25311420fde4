package sessions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/expiring"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/store"
)

// Timers keeps the durable timers of a session (core/queue implements it).
type Timers interface {
	Schedule(ctx context.Context, db bun.IDB, sessionID int64, kind string, due time.Time) error
	// Cancel removes the session's timers of these kinds, if any.
	Cancel(ctx context.Context, db bun.IDB, sessionID int64, kinds ...string) error
	// SchedulePart and CancelPart are Schedule and Cancel as data-modifying
	// WITH members of a change's one statement (onestep.go), for the
	// session whose id the member from holds.
	SchedulePart(from, kind string, due time.Time) (string, []any)
	CancelPart(from string, kinds ...string) (string, []any)
}

// SystemLog appends SESS-13 system messages to a session's message log
// (core/relay implements it) inside the caller's transaction, or renders
// one as parts of a change's one statement (onestep.go).
type SystemLog interface {
	AppendSystem(ctx context.Context, db bun.IDB, sessionID int64, text string, payload any) error
	SystemPartsFor(from, as, text string, payload any) (SystemParts, error)
}

// SystemParts is a system message as parts of a change's one statement:
// Insert, a WITH member inserting it for the session of the member from
// and RETURNING session_id and seq; its outbox event's type ("" for none)
// and payload, an SQL expression over that member's columns (qualified by
// as).
type SystemParts struct {
	Insert           string
	InsertArgs       []any
	EventType        string
	EventPayload     string
	EventPayloadArgs []any
}

// Notifier hears about committed changes: the relay pushes the new state
// to connected sides, the queue feed tells technicians.
type Notifier interface {
	SessionChanged(sessionID int64, state session.State)
}

// Policy gives the settings that apply to a session's unit (a channel for
// channel sessions, the technician group for private ones).
type Policy interface {
	Timeouts(ctx context.Context, unitID int64) (session.Timeouts, error)
	PrivateFields(ctx context.Context, groupID int64) (*PrivateFields, error)
	Terms(ctx context.Context, unitID int64) (*Terms, error)
	Invitation(ctx context.Context, groupID int64) (*Invitation, error)
	Permissions(ctx context.Context, groupID int64) (*org.Permissions, error)
	// AutoTransfer returns the channel's auto-transfer, if enabled.
	AutoTransfer(ctx context.Context, channelID int64) (after time.Duration, target int64, ok bool, err error)
}

// Outbox hears of every outbox event inside the transaction that writes it,
// so whatever it records (the plugin host's deliveries) commits or rolls
// back with the state change.
type Outbox interface {
	Written(ctx context.Context, db bun.IDB, e Event) error
	// Subscribes reports whether Written records anything for events of
	// this type; a change none of whose events it records is saved
	// without a transaction around it on PostgreSQL.
	Subscribes(eventType string) bool
}

// Timer kinds.
const (
	TimerTimeout      = "timeout"
	TimerAutoTransfer = "auto_transfer"
)

// Service is the sessions store and its state changes.
type Service struct {
	DB       *bun.DB
	Org      *org.Service
	Policy   Policy
	Timers   Timers
	Presence Presence
	// TechnicianActed hears that a technician acted on a session (their
	// presence: idle time, SESS-16); nil ignores it.
	TechnicianActed func(ctx context.Context, technicianID int64)
	// Dispatcher applies working hours and auto-start; nil turns both off.
	Dispatcher Dispatcher
	// Routing applies routing rules to waiting channel sessions; nil means
	// no rules (routing.go).
	Routing Routing
	// RouteChanged hears that rules changed who is offered a session.
	RouteChanged func(sessionID int64)
	Log          SystemLog
	Notify       Notifier
	// Outbox hears of each event written; nil records the rows only.
	Outbox   Outbox
	Now      func() time.Time
	Rand     io.Reader
	Logger   hclog.Logger
	PINLimit PINLimit
	// MaxTx bounds the state-change transactions running at once; 0 means
	// DefaultMaxTx. A transaction also reads settings, presence and the
	// organisation through the pool while it holds its own connection, so
	// as many transactions as pooled connections would wait on each other
	// forever; keep MaxTx well under the pool's size.
	MaxTx int
	// CredentialsTTL, when positive, keeps who a technician is (their
	// group, name, whether they are enabled) for that long instead of
	// reading it on every action (technicians.go).
	CredentialsTTL time.Duration

	txOnce  sync.Once
	txSlots chan struct{}
	creds   expiring.Map[int64, org.Credentials]
	// lastWritten are the rows of live sessions as this node last wrote them
	// on PostgreSQL (onestep.go).
	lastWritten expiring.Map[int64, row]
}

// DefaultMaxTx leaves half of store.MaxOpenConns free for the reads that
// transactions make through the pool.
const DefaultMaxTx = 10

// inTx runs fn in a transaction once a transaction slot is free.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	s.txOnce.Do(func() {
		n := s.MaxTx
		if n <= 0 {
			n = DefaultMaxTx
		}
		s.txSlots = make(chan struct{}, n)
	})
	select {
	case s.txSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.txSlots }()
	return s.DB.RunInTx(ctx, nil, fn)
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Microsecond)
	}
	return s.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) rand() io.Reader {
	if s.Rand == nil {
		return rand.Reader
	}
	return s.Rand
}

func (s *Service) logger() hclog.Logger {
	if s.Logger == nil {
		return hclog.NewNullLogger()
	}
	return s.Logger
}

// change is what a state change wants recorded besides the aggregate.
type change struct {
	event   string // outbox type, e.g. "session.picked_up"
	actorID int64
	payload map[string]any
	system  string // system message text, SESS-13; "" for none
	claim   *claim // a place among a technician's active sessions it takes
}

// mutate loads a session, applies fn and saves the result with its outbox
// event, system message and re-armed timers, all at once (a transaction on
// SQLite, one statement on PostgreSQL: onestep.go); the notifier hears of
// it after commit. fn reads through db and writes nothing itself: on
// PostgreSQL it may run again, on a fresh copy of the session, when
// another change was saved meanwhile.
func (s *Service) mutate(ctx context.Context, id int64, fn mutation) (Session, error) {
	return s.mutateRow(ctx, byID(id), fn)
}

// mutation is a state change: it changes r and agg and says what to record.
type mutation func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error)

// finder finds the one session a change applies to: stmt reads it, lock
// reads and locks it in a PostgreSQL transaction.
type finder struct {
	id         int64 // when it finds the session by ID
	stmt, lock *store.Statement
	args       []any
	notFound   error
}

func byID(id int64) finder {
	return finder{id: id, stmt: sessionByID, lock: lockSessionByID, args: []any{id},
		notFound: fault.NotFoundf("session", "No session with id %d.", id)}
}

func (f finder) load(ctx context.Context, db bun.IDB) (*row, error) {
	return f.loadWith(ctx, db, f.stmt)
}

func (f finder) loadWith(ctx context.Context, db bun.IDB, stmt *store.Statement) (*row, error) {
	var r row
	err := stmt.Scan(ctx, db, &r, f.args...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, f.notFound
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	return &r, nil
}

// mutateRow is mutate with the session find finds.
func (s *Service) mutateRow(ctx context.Context, find finder, fn mutation) (Session, error) {
	load := find.stmt
	if s.oneStatement() {
		v, err := s.mutateOptimistic(ctx, find, fn)
		if !errors.Is(err, errRaced) {
			return v, err
		}
		// Another change came first: this one is made again in a
		// transaction that locks the session, so that a session many
		// write at once cannot make one of them lose every race.
		load = find.lock
	}
	var out row
	var outAgg *session.Session
	var changed bool
	now := s.now()
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		r, err := find.loadWith(ctx, tx, load)
		if err != nil {
			return err
		}
		agg, err := r.aggregate()
		if err != nil {
			return err
		}
		ch, err := fn(ctx, tx, r, agg, now)
		if err != nil {
			return err
		}
		if err := s.save(ctx, tx, r, agg, now, ch); err != nil {
			return err
		}
		out, outAgg, changed = *r, agg, ch.event != ""
		return nil
	})
	if err != nil {
		return Session{}, err
	}
	if changed {
		// Only real changes are announced: a touch or a stale timer is not news.
		s.notify(out.ID, session.State(out.State))
	}
	return out.viewOf(outAgg, now)
}

// errChanged is a save that found the session changed meanwhile.
var errChanged = fault.New(fault.Conflict, "session_changed", "The session changed meanwhile; reload and try again.")

// save writes the aggregate back with optimistic versioning, the outbox
// event, the system message and the timers.
func (s *Service) save(ctx context.Context, tx bun.Tx, r *row, agg *session.Session, now time.Time, ch change) error {
	if err := ch.claim.check(ctx, tx); err != nil {
		return err
	}
	if err := r.absorb(agg); err != nil {
		return err
	}
	r.UpdatedAt = now
	res, err := saveSession.Exec(ctx, tx, append(r.values(), r.ID, r.Version)...)
	if err != nil {
		return fmt.Errorf("save session %d: %w", r.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errChanged
	}
	r.Version++
	w, err := s.plan(ctx, r, agg, now, ch, false)
	if err != nil {
		return err
	}
	return s.apply(ctx, tx, r, w)
}

// create stores a new session with its outbox event, system message and
// timers: in a transaction on SQLite, in one statement on PostgreSQL.
// r.ID is set.
func (s *Service) create(ctx context.Context, r *row, agg *session.Session, now time.Time, ch change) error {
	if err := r.absorb(agg); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt, r.Version = now, now, 1
	if s.oneStatement() {
		w, err := s.plan(ctx, r, agg, now, ch, true)
		if err != nil {
			return err
		}
		if err := s.writeOne(ctx, r, w, true); err != nil {
			return err
		}
		agg.ID = r.ID
		return nil
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := insertSession.Scan(ctx, tx, &r.ID, append(r.values(), r.Version, r.CreatedAt)...); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		agg.ID = r.ID
		w, err := s.plan(ctx, r, agg, now, ch, true)
		if err != nil {
			return err
		}
		return s.apply(ctx, tx, r, w)
	})
}

// writes are what a state change stores besides the session row: its own
// outbox event, its system message and its timers. plan decides them;
// apply writes them in a transaction, writeOne in the same statement as
// the row.
type writes struct {
	events        []eventRow // the change's own event: none or one
	system        string     // SESS-13 system message; "" for none
	systemPayload map[string]any
	schedule      []timerAt
	cancel        []string // timer kinds
	claim         *claim
}

type timerAt struct {
	kind string
	due  time.Time
}

// plan decides what a change saved as r and agg records: its event, its
// system message, and the session's timers for its new state (a fresh
// session has none to cancel).
func (s *Service) plan(ctx context.Context, r *row, agg *session.Session, now time.Time, ch change, fresh bool) (writes, error) {
	events, err := eventOf(r.ID, ch, now)
	if err != nil {
		return writes{}, err
	}
	w := writes{events: events, claim: ch.claim}
	if ch.system != "" && s.Log != nil {
		w.system = ch.system
		w.systemPayload = map[string]any{"event": ch.event, "state": agg.State}
	}
	if s.Timers == nil {
		return w, nil
	}
	if !agg.State.Live() {
		w.cancel = []string{TimerTimeout, TimerAutoTransfer}
	} else {
		t, err := s.Policy.Timeouts(ctx, unitOf(r))
		if err != nil {
			return writes{}, err
		}
		if at, _, ok := agg.Deadline(t); ok {
			w.schedule = append(w.schedule, timerAt{TimerTimeout, at})
		} else {
			w.cancel = append(w.cancel, TimerTimeout)
		}
		autoTransfer := false
		if agg.State == session.Waiting && r.QueueKind == QueueChannel {
			after, _, ok, err := s.Policy.AutoTransfer(ctx, r.QueueID)
			if err != nil {
				return writes{}, err
			}
			if ok {
				w.schedule = append(w.schedule, timerAt{TimerAutoTransfer, agg.StateSince.Add(after)})
				autoTransfer = true
			}
		}
		if !autoTransfer {
			w.cancel = append(w.cancel, TimerAutoTransfer)
		}
	}
	if fresh {
		w.cancel = nil
	}
	return w, nil
}

// apply writes w for the saved session r in the caller's transaction. The
// change's event and the system message's own event go into the outbox in
// one statement.
func (s *Service) apply(ctx context.Context, tx bun.Tx, r *row, w writes) error {
	events := w.events
	for i := range events {
		events[i].SessionID = r.ID
	}
	if w.system != "" {
		held := &heldEvents{}
		if err := s.Log.AppendSystem(context.WithValue(ctx, heldEventsKey{}, held), tx, r.ID, w.system, w.systemPayload); err != nil {
			return fmt.Errorf("system message: %w", err)
		}
		events = append(events, held.rows...)
	}
	if err := s.writeEvents(ctx, tx, events); err != nil {
		return err
	}
	for _, t := range w.schedule {
		if err := s.Timers.Schedule(ctx, tx, r.ID, t.kind, t.due); err != nil {
			return err
		}
	}
	if len(w.cancel) == 0 {
		return nil
	}
	return s.Timers.Cancel(ctx, tx, r.ID, w.cancel...)
}

// heldEvents collects the outbox events AppendEvent is asked for while
// apply appends a system message, so that apply writes them with its own.
type heldEvents struct{ rows []eventRow }

type heldEventsKey struct{}

// event writes the change's outbox event, if it has one.
func (s *Service) event(ctx context.Context, db bun.IDB, id int64, ch change, now time.Time) error {
	events, err := eventOf(id, ch, now)
	if err != nil {
		return err
	}
	return s.writeEvents(ctx, db, events)
}

// eventOf is the change's outbox event: none, or one.
func eventOf(id int64, ch change, now time.Time) ([]eventRow, error) {
	if ch.event == "" {
		return nil, nil
	}
	payload := ch.payload
	if payload == nil {
		payload = map[string]any{}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return []eventRow{{SessionID: id, Type: ch.event, ActorID: ch.actorID, Payload: string(b), At: now}}, nil
}

// writeEvents inserts outbox rows in one statement, in order, and hands
// them to the Outbox in the same transaction.
func (s *Service) writeEvents(ctx context.Context, db bun.IDB, events []eventRow) error {
	if len(events) == 0 {
		return nil
	}
	args := make([]any, 0, 5*len(events))
	for _, e := range events {
		args = append(args, e.SessionID, e.Type, e.ActorID, e.Payload, e.At)
	}
	var ids []int64
	if err := insertEvents.For(len(events)).Scan(ctx, db, &ids, args...); err != nil {
		return fmt.Errorf("write outbox event %s: %w", events[0].Type, err)
	}
	if len(ids) != len(events) {
		return fmt.Errorf("write outbox event %s: %d IDs for %d rows", events[0].Type, len(ids), len(events))
	}
	for i := range events {
		events[i].ID = ids[i]
	}
	return s.written(ctx, db, events)
}

// written hands stored outbox events to the Outbox.
func (s *Service) written(ctx context.Context, db bun.IDB, events []eventRow) error {
	if s.Outbox == nil {
		return nil
	}
	for _, e := range events {
		if err := s.Outbox.Written(ctx, db, e.event()); err != nil {
			return fmt.Errorf("outbox event %s: %w", e.Type, err)
		}
	}
	return nil
}

// unitOf is the unit whose settings govern the session.
func unitOf(r *row) int64 {
	if r.Kind == string(session.Channel) && r.ChannelID != nil {
		return *r.ChannelID
	}
	if r.TechGroupID != nil {
		return *r.TechGroupID
	}
	return 0
}

func (s *Service) notify(id int64, st session.State) {
	if s.Notify != nil {
		s.Notify.SessionChanged(id, st)
	}
}

// transitionFault turns an illegal transition into a 409 for the API.
func transitionFault(err error) error {
	var te *session.TransitionError
	if errors.As(err, &te) {
		return &fault.Error{Kind: fault.Conflict, Code: "illegal_transition", Message: te.Error() + "."}
	}
	return err
}

// Get returns one session.
func (s *Service) Get(ctx context.Context, id int64) (Session, error) {
	var r row
	err := sessionByID.Scan(ctx, s.DB, &r, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fault.NotFoundf("session", "No session with id %d.", id)
	}
	if err != nil {
		return Session{}, fmt.Errorf("load session %d: %w", id, err)
	}
	return r.view(s.now())
}

// Events lists a session's outbox events in order.
func (s *Service) Events(ctx context.Context, id int64) ([]Event, error) {
	var rows []eventRow
	if err := s.DB.NewSelect().Model(&rows).Where("session_id = ?", id).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load events of %d: %w", id, err)
	}
	out := make([]Event, len(rows))
	for i, e := range rows {
		out[i] = e.event()
	}
	return out, nil
}

// newSecret returns a customer secret and its stored hash.
func (s *Service) newSecret() (string, string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.rand(), b); err != nil {
		return "", "", fmt.Errorf("customer secret: %w", err)
	}
	secret := "tcs_" + base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ByCustomerSecret finds the session a customer's secret belongs to.
func (s *Service) ByCustomerSecret(ctx context.Context, secret string) (Session, error) {
	if secret == "" {
		return Session{}, fault.New(fault.Unauthorized, "invalid_customer_secret", "This session link is not valid.")
	}
	var r row
	err := s.DB.NewSelect().Model(&r).Where("customer_secret_hash = ?", hashSecret(secret)).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fault.New(fault.Unauthorized, "invalid_customer_secret", "This session link is not valid.")
	}
	if err != nil {
		return Session{}, fmt.Errorf("load session by secret: %w", err)
	}
	return r.view(s.now())
}

func isNotFound(err error) bool { return fault.IsKind(err, fault.NotFound) }

// AppendEvent writes an outbox event for a session inside the caller's
// transaction (the relay's message appends use it).
func (s *Service) AppendEvent(ctx context.Context, db bun.IDB, sessionID int64, eventType string, actorID int64, payload any) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	e := eventRow{SessionID: sessionID, Type: eventType, ActorID: actorID, Payload: string(b), At: s.now()}
	if held, ok := ctx.Value(heldEventsKey{}).(*heldEvents); ok {
		held.rows = append(held.rows, e)
		return nil
	}
	return s.writeEvents(ctx, db, []eventRow{e})
}
