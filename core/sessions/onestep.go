package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/store"
)

// On PostgreSQL a state change is saved in one statement: the session row,
// its outbox events, its system message and its timers are members of one
// WITH, so the change is one round trip and one implicit transaction
// instead of a dozen statements between BEGIN and COMMIT. The session is
// read beforehand without a lock; the row is written only if its version
// is still the one read, and every other member writes only for the row
// the first one wrote, so a change that lost a race writes nothing at all.
// It is then made again under the session's lock (mutateRow).
//
// When an Outbox records something for one of the change's events (an
// enabled plugin takes them), the statement runs in a transaction with
// the Outbox's writes, as on SQLite.

// maxSeqAttempts bounds how often a change's statement runs again at once
// because a message appended meanwhile took its system message's seq.
const maxSeqAttempts = 100

// errRaced is a one-statement change that another change overtook.
var errRaced = errors.New("session saved meanwhile")

// oneStatement reports whether changes are saved in one statement.
func (s *Service) oneStatement() bool { return store.DialectOf(s.DB) == store.Postgres }

// mutateOptimistic is mutateRow on PostgreSQL: read, change, and write if
// nobody wrote meanwhile. errRaced: somebody did, and nothing was written;
// mutateRow then makes the change again under the session's lock, which
// guarantees progress to a session many write at once.
//
// The session is read from the rows this node last wrote (lastWritten)
// when it has one: the write checks its version as it checks any other,
// so a copy another node overtook costs one statement that writes
// nothing. A change that refuses a copy (an illegal transition, say) is
// tried once more from the table, so that it is refused only for what is
// stored.
func (s *Service) mutateOptimistic(ctx context.Context, find finder, fn mutation) (Session, error) {
	now := s.now()
	r, cached := s.recall(find, now)
	for {
		if !cached {
			var err error
			if r, err = find.load(ctx, s.DB); err != nil {
				return Session{}, err
			}
		}
		agg, err := r.aggregate()
		if err != nil {
			return Session{}, err
		}
		ch, err := fn(ctx, s.DB, r, agg, now)
		if err != nil && cached {
			cached = false
			continue
		}
		if err != nil {
			return Session{}, err
		}
		if err := r.absorb(agg); err != nil {
			return Session{}, err
		}
		r.UpdatedAt = now
		w, err := s.plan(ctx, r, agg, now, ch, false)
		if err != nil {
			return Session{}, err
		}
		if err := s.writeOne(ctx, r, w, false); err != nil {
			s.lastWritten.Delete(r.ID)
			return Session{}, err
		}
		s.remember(r, now)
		if ch.event != "" {
			s.notify(r.ID, session.State(r.State))
		}
		return r.viewOf(agg, now)
	}
}

// writtenTTL is how long the row this node last wrote stands in for a
// read of the session; writtenMax bounds how many are kept.
const (
	writtenTTL = time.Minute
	writtenMax = 10_000
)

// recall returns a copy of the row this node last wrote for the session
// find looks for by ID.
func (s *Service) recall(find finder, now time.Time) (*row, bool) {
	if find.id == 0 {
		return nil, false
	}
	r, ok, _ := s.lastWritten.Get(find.id, now, writtenTTL)
	if !ok {
		return nil, false
	}
	return &r, true
}

// remember keeps a copy of r as written, while the session is live.
func (s *Service) remember(r *row, now time.Time) {
	if !session.State(r.State).Live() {
		s.lastWritten.Delete(r.ID)
		return
	}
	s.lastWritten.Max = writtenMax
	_, _, gen := s.lastWritten.Get(r.ID, now, 0)
	s.lastWritten.Put(gen, r.ID, *r, now)
}

// oneStatements are the one-statement changes, one per shape.
var oneStatements store.ByText

// writtenRow is a row of a one-statement change's answer: the session as
// written, and one of the outbox events written with it (none: NULLs).
type writtenRow struct {
	ID          int64          `bun:"id"`
	Version     int64          `bun:"version"`
	Transmitted int64          `bun:"transmitted"`
	ToolsUsed   string         `bun:"tools_used"`
	EventID     sql.NullInt64  `bun:"event_id"`
	EventType   sql.NullString `bun:"event_type"`
	ActorID     sql.NullInt64  `bun:"actor_id"`
	Payload     sql.NullString `bun:"payload"`
	At          bun.NullTime   `bun:"at"`
}

// writeOne writes r (inserted when insert is true, else saved over the
// version it was read at) and w in one statement; r's ID, version and the
// columns the relay keeps are set from what was written. errRaced: another
// change saved the session or took the system message's seq first, and
// nothing was written.
func (s *Service) writeOne(ctx context.Context, r *row, w writes, insert bool) error {
	text, args, types, err := s.statementOf(r, w, insert)
	if err != nil {
		return err
	}
	stmt := oneStatements.For(text)

	// Decided once: a plugin enabled meanwhile must not make the outbox
	// hear, outside any transaction, a change written without one.
	hooked := s.subscribed(types)
	var rows []writtenRow
	run := func(ctx context.Context, db bun.IDB) error {
		rows = rows[:0]
		if err := stmt.Scan(ctx, db, &rows, args...); err != nil {
			return err
		}
		if len(rows) == 0 {
			return errRaced
		}
		if len(rows) != max(len(types), 1) {
			return fmt.Errorf("save session %d: %d rows written for %d events", r.ID, len(rows), len(types))
		}
		if !hooked {
			return nil
		}
		return s.written(ctx, db, eventsOf(rows))
	}
	for range maxSeqAttempts {
		if hooked {
			err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error { return run(ctx, tx) })
		} else {
			err = run(ctx, s.DB)
		}
		// A message appended meanwhile took the seq the system message was
		// to have, and the statement wrote nothing. It failed only once
		// that message was committed, so running it again at once takes
		// the next seq; reading the session again first would give a
		// writer appending in a loop time to take that one too.
		if insert || w.system == "" || !store.IsUniqueViolation(err) {
			break
		}
	}
	switch {
	case errors.Is(err, errRaced):
		return err
	case err != nil && !insert && w.system != "" && store.IsUniqueViolation(err):
		return errRaced
	case err != nil && insert:
		return err // a PIN another live session holds is the caller's to handle
	case err != nil:
		return fmt.Errorf("save session %d: %w", r.ID, err)
	}
	r.ID, r.Version, r.Transmitted, r.ToolsUsed = rows[0].ID, rows[0].Version, rows[0].Transmitted, rows[0].ToolsUsed
	return nil
}

// statementOf is the one statement that writes r (inserted when insert is
// true) and w, its arguments, and the types of the events it writes.
func (s *Service) statementOf(r *row, w writes, insert bool) (string, []any, []string, error) {
	var q strings.Builder
	var args []any
	if insert && w.claim != nil {
		return "", nil, nil, errors.New("a new session cannot claim a technician's place")
	}
	if insert {
		q.WriteString(`WITH w AS (INSERT INTO sessions (` + strings.Join(rowColumns, ", ") + `, version, created_at) VALUES (` +
			store.Placeholders(len(rowColumns)+2) + `) RETURNING id, version, transmitted, tools_used)`)
		args = append(r.values(), r.Version, r.CreatedAt)
	} else {
		q.WriteString(`WITH w AS (UPDATE sessions SET ` + strings.Join(rowColumns, " = ?, ") +
			` = ?, version = version + 1 WHERE id = ? AND version = ?`)
		args = append(r.values(), r.ID, r.Version)
		// A claimed place is counted, under the technician's lock, by
		// the statement that takes it; a full technician, like a lost
		// race, writes nothing, and the locked path says which it was.
		if w.claim != nil {
			q.WriteString(` AND tether_active_sessions(?) < ?`)
			args = append(args, w.claim.technician, w.claim.max)
		}
		q.WriteString(` RETURNING id, version, transmitted, tools_used)`)
	}
	// The events member comes after the message's, and so do its
	// arguments.
	var events, types []string
	var eventArgs []any
	for _, e := range w.events {
		events = append(events, `SELECT w.id, ?::text, ?::bigint, ?::text, ?::timestamptz FROM w`)
		eventArgs = append(eventArgs, e.Type, e.ActorID, e.Payload, e.At)
		types = append(types, e.Type)
	}
	if w.system != "" {
		p, err := s.Log.SystemPartsFor("w", "m", w.system, w.systemPayload)
		if err != nil {
			return "", nil, nil, fmt.Errorf("system message: %w", err)
		}
		q.WriteString(`, m AS (` + p.Insert + `)`)
		args = append(args, p.InsertArgs...)
		if p.EventType != "" {
			at := r.UpdatedAt
			if len(w.events) > 0 {
				at = w.events[0].At
			}
			events = append(events, `SELECT m.session_id, ?::text, 0::bigint, `+p.EventPayload+`, ?::timestamptz FROM m`)
			eventArgs = append(eventArgs, p.EventType)
			eventArgs = append(eventArgs, p.EventPayloadArgs...)
			eventArgs = append(eventArgs, at)
			types = append(types, p.EventType)
		}
	}
	if len(events) > 0 {
		q.WriteString(`, e AS (INSERT INTO session_events (session_id, type, actor_id, payload, at) ` +
			strings.Join(events, ` UNION ALL `) + ` RETURNING id, type, actor_id, payload, at)`)
		args = append(args, eventArgs...)
	}
	for i, t := range w.schedule {
		text, a := s.Timers.SchedulePart("w", t.kind, t.due)
		q.WriteString(`, t` + strconv.Itoa(i) + ` AS (` + text + `)`)
		args = append(args, a...)
	}
	if len(w.cancel) > 0 {
		text, a := s.Timers.CancelPart("w", w.cancel...)
		q.WriteString(`, c AS (` + text + `)`)
		args = append(args, a...)
	}
	if len(events) > 0 {
		q.WriteString(` SELECT w.id, w.version, w.transmitted, w.tools_used, e.id AS event_id, e.type AS event_type, e.actor_id, e.payload, e.at
	FROM w LEFT JOIN e ON true ORDER BY e.id`)
	} else {
		q.WriteString(` SELECT w.id, w.version, w.transmitted, w.tools_used FROM w`)
	}
	return q.String(), args, types, nil
}

// EventPart is the relay's EventPart (relay.Log.SetEventPart): a WITH
// member that writes a message's outbox event in the statement that
// inserts the message, from the member as that returns the message's
// session_id and seq. It declines (ok false) when the Outbox records
// something for the event: that needs the append's transaction. As in
// writeOne, that is decided once, here.
func (s *Service) EventPart(eventType string, actorID int64, payload string, payloadArgs []any, as string) (member string, args []any, ok bool) {
	if s.subscribed([]string{eventType}) {
		return "", nil, false
	}
	args = append([]any{eventType, actorID}, payloadArgs...)
	return `INSERT INTO session_events (session_id, type, actor_id, payload, at) SELECT ` + as + `.session_id, ?::text, ?::bigint, ` +
		payload + `, ?::timestamptz FROM ` + as + ` RETURNING id`, append(args, s.now()), true
}

// subscribed reports whether the Outbox records anything for one of these
// event types.
func (s *Service) subscribed(types []string) bool {
	if s.Outbox == nil {
		return false
	}
	for _, t := range types {
		if s.Outbox.Subscribes(t) {
			return true
		}
	}
	return false
}

func eventsOf(rows []writtenRow) []eventRow {
	out := make([]eventRow, 0, len(rows))
	for _, w := range rows {
		if !w.EventID.Valid {
			continue
		}
		out = append(out, eventRow{ID: w.EventID.Int64, SessionID: w.ID, Type: w.EventType.String, ActorID: w.ActorID.Int64,
			Payload: w.Payload.String, At: w.At.Time.UTC()})
	}
	return out
}
