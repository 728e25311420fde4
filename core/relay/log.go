package relay

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store"
)

// MaxTextRunes bounds the body of any message (chat, note, system, URL).
const MaxTextRunes = 4000

// DedupWindow is how many of a session's latest messages are searched for a
// re-sent client_msg_id: far more than a client has unacknowledged when it
// reconnects (it re-sends only what was neither acknowledged nor echoed).
const DedupWindow = 200

// transientPerSession is how many not-kept chat texts stay in memory per
// session for sides that catch up (see SetKeepChatText).
const transientPerSession = 512

// maxSeqAttempts bounds the retries when another writer took the next seq.
const maxSeqAttempts = 100

// Log is the message log of sessions (table session_messages). Appends take
// the next sequence number of the session inside a transaction, together with
// the outbox event; reads filter by what the viewer may see.
type Log struct {
	db        *bun.DB
	outbox    Outbox
	now       func() time.Time
	dropText  atomic.Bool // inverse of KeepChatText, so the zero value keeps text
	keepText  atomic.Pointer[KeepTextPolicy]
	transient textCache   // not-kept chat texts, for live delivery
	toggles   toggleCache // latest chat_toggle per session
	ids       idIndex     // client_msg_ids appended here, to skip most look-ups
	eventPart EventPart   // set on PostgreSQL: appends are one statement
}

// EventPart writes the outbox event of an appended message in the
// statement that inserts the message (PostgreSQL). Given the event's type
// and actor, and its payload as an SQL expression over the WITH member as
// (which returns the message's session_id and seq) with its arguments, it
// returns a WITH member that inserts the event, and the member's
// arguments. ok is false when the event cannot be written so: an Outbox
// that records more for it (an enabled plugin takes it) needs the
// append's transaction. core/sessions provides it.
type EventPart func(eventType string, actorID int64, payload string, payloadArgs []any, as string) (member string, args []any, ok bool)

// SetEventPart lets appends outside a caller's transaction be one
// statement on PostgreSQL (appendOne). Call it before serving.
func (l *Log) SetEventPart(p EventPart) { l.eventPart = p }

// NewLog returns the log over db. outbox may be nil (no events); now may be
// nil (time.Now).
func NewLog(db *bun.DB, outbox Outbox, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{
		db: db, outbox: outbox, now: now,
		transient: textCache{per: map[int64]*textRing{}},
		toggles:   toggleCache{per: map[int64]toggleState{}},
		ids:       idIndex{per: map[int64]*sessionIDs{}},
	}
}

// SetKeepChatText is the P2U-3 knob "do not keep chat text in the hub's own
// storage". With keep=false a chat message (both customer chat and
// technician-only chat; notes are the technician's record and stay) is stored
// with an empty body and a payload saying only that a chat of so many
// characters happened; the outbox event carries no text either. The text
// lives in memory only (the last 512 per session, until the session ends) so
// that connected and reconnecting sides still receive it; after a hub
// restart such messages are delivered with an empty body and
// "text_kept": false. It may be changed at any time; it applies to the
// messages appended afterwards.
func (l *Log) SetKeepChatText(keep bool) { l.dropText.Store(!keep) }

// KeepTextPolicy tells whether a session's chat text may be stored; the
// hub answers from the P2U-3 setting of the session's technician group. It
// must be cheap: it runs on every chat append.
type KeepTextPolicy func(ctx context.Context, sessionID int64) bool

// SetKeepTextPolicy makes the P2U-3 choice per session: a chat is stored
// without its text when SetKeepChatText(false) is in force or the policy
// says no.
func (l *Log) SetKeepTextPolicy(p KeepTextPolicy) { l.keepText.Store(&p) }

func (l *Log) dropsText(ctx context.Context, sessionID int64) bool {
	if l.dropText.Load() {
		return true
	}
	p := l.keepText.Load()
	return p != nil && *p != nil && !(*p)(ctx, sessionID)
}

// KeepChatText reports the current P2U-3 setting.
func (l *Log) KeepChatText() bool { return !l.dropText.Load() }

type messageRow struct {
	bun.BaseModel `bun:"table:session_messages"`

	SessionID  int64     `bun:"session_id,pk"`
	Seq        int64     `bun:"seq,pk"`
	Kind       string    `bun:"kind,notnull"`
	SenderKind string    `bun:"sender_kind,notnull"`
	SenderID   int64     `bun:"sender_id,notnull"`
	Audience   string    `bun:"audience,notnull"`
	Body       string    `bun:"body,notnull"`
	Payload    string    `bun:"payload,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
	// ClientMsgID is also in the payload; the column (migration 16) is
	// what a re-send is looked up by. NULL without one.
	ClientMsgID *string `bun:"client_msg_id"`
}

// payloadMeta are the payload keys the log itself writes.
type payloadMeta struct {
	ClientMsgID string `json:"client_msg_id"`
	TextRef     string `json:"text_ref"`
}

// keepRemoteText keeps in memory the text of m, a chat message another hub node
// stored without its text (P2U-3), for this node's sockets that read it
// from the log.
func (l *Log) keepRemoteText(m Message) {
	if m.Kind != KindChat || m.Body == "" {
		return
	}
	var meta payloadMeta
	if json.Unmarshal(m.Payload, &meta) == nil && meta.TextRef != "" {
		l.transient.put(m.SessionID, meta.TextRef, m.Body)
	}
}

func (l *Log) fromRow(r messageRow) Message {
	m := Message{
		Seq: r.Seq, SessionID: r.SessionID, Kind: Kind(r.Kind), SenderKind: SenderKind(r.SenderKind),
		SenderID: r.SenderID, Audience: Audience(r.Audience), Body: r.Body,
		Payload: json.RawMessage(r.Payload), CreatedAt: r.CreatedAt.UTC(),
	}
	var meta payloadMeta
	if json.Unmarshal(m.Payload, &meta) == nil {
		m.ClientMsgID = meta.ClientMsgID
		if meta.TextRef != "" && m.Body == "" {
			m.Body, _ = l.transient.get(m.SessionID, meta.TextRef)
		}
	}
	return m
}

// Append stores m with the session's next sequence number and writes its
// outbox event in the same transaction: a new one when db is a *bun.DB, a
// savepoint when db is the caller's bun.Tx (so the caller's state change and
// the message commit together). Seq and CreatedAt are assigned; Audience
// defaults to all, and notes are always for technicians only. A message whose
// ClientMsgID the same sender already used (among the session's last
// DedupWindow messages) is not stored again: the stored one is returned and
// no event is written.
func (l *Log) Append(ctx context.Context, db bun.IDB, m Message) (Message, error) {
	if err := normalize(&m); err != nil {
		return Message{}, err
	}
	m.CreatedAt = l.now().UTC().Truncate(time.Microsecond)
	text := m.Body
	extra := map[string]any{}
	if m.ClientMsgID != "" {
		extra["client_msg_id"] = m.ClientMsgID
	}
	ref := ""
	if m.Kind == KindChat && l.dropsText(ctx, m.SessionID) {
		ref = newRef()
		extra["text_kept"] = false
		extra["text_ref"] = ref
		extra["length"] = utf8.RuneCountInString(text)
		m.Body = ""
		// Before the commit, so that a reader woken by someone else's
		// append never finds the row without its text. A rolled-back
		// append leaves an entry nobody refers to.
		l.transient.put(m.SessionID, ref, text)
	}
	payload, err := withFields(m.Payload, extra)
	if err != nil {
		return Message{}, err
	}
	m.Payload = payload

	own, ownTx := db.(*bun.DB)
	var out Message
	inserted := false
	if ownTx {
		if out, inserted, err = l.appendOne(ctx, own, m); inserted && ref != "" {
			out.Body = text
		}
	}
	if !inserted && err == nil {
		out, inserted, err = l.appendInTx(ctx, db, m, text, ref)
	}
	switch {
	case errors.Is(err, errDuplicate):
		return out, nil
	case err != nil && store.IsForeignKeyViolation(err):
		return Message{}, fault.NotFoundf("session", "no session %d", m.SessionID)
	case err != nil:
		return Message{}, fmt.Errorf("append %s to session %d: %w", m.Kind, m.SessionID, err)
	}
	if inserted {
		l.ids.record(out, ownTx)
		if out.Kind == KindChatToggle {
			l.toggles.appended(out, ownTx)
		}
	}
	return out, nil
}

// appendInTx appends m and its outbox event in a transaction: db's own, or
// the caller's. A re-sent message returns the stored one with
// errDuplicate.
func (l *Log) appendInTx(ctx context.Context, db bun.IDB, m Message, text, ref string) (out Message, inserted bool, err error) {
	// In the caller's transaction, a message that cannot be a duplicate
	// needs no savepoint of its own (two statements fewer per session
	// transition); one that can is rolled back alone when it is one.
	run := db.RunInTx
	if tx, ok := db.(bun.Tx); ok && m.ClientMsgID == "" {
		run = func(ctx context.Context, _ *sql.TxOptions, fn func(context.Context, bun.Tx) error) error {
			return fn(ctx, tx)
		}
	}
	err = run(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		seq, err := insertNext(ctx, tx, m)
		if err != nil {
			return err
		}
		m.Seq = seq
		// Insert first, look for a duplicate after: the common case (no
		// duplicate) costs no extra statement; a duplicate rolls back.
		if m.ClientMsgID != "" {
			dup, found, err := l.findClientMsg(ctx, tx, m)
			if err != nil {
				return err
			}
			if found {
				out = dup
				return errDuplicate
			}
		}
		if l.outbox != nil {
			if err := l.outbox(ctx, tx, m.SessionID, "message."+string(m.Kind), m.SenderID, m); err != nil {
				return fmt.Errorf("outbox: %w", err)
			}
		}
		out, inserted = m, true
		if ref != "" {
			out.Body = text
		}
		return nil
	})
	return out, inserted, err
}

// appendStatements are appendOne's statements, one per shape.
var appendStatements store.ByText

// appendOne appends m with its outbox event in one statement on
// PostgreSQL: one round trip instead of BEGIN, the insert, the look-up of
// a re-send, the event and COMMIT. ok is false, and nothing was written,
// when it cannot: not on PostgreSQL or no EventPart (or it declines: a
// plugin takes the event), or a message with a client_msg_id finds one
// like it among the session's last DedupWindow messages (a re-send,
// which the transaction path returns) or loses its seq to another append.
// The transaction path then appends it as before.
func (l *Log) appendOne(ctx context.Context, db *bun.DB, m Message) (_ Message, ok bool, _ error) {
	if l.eventPart == nil || store.DialectOf(db) != store.Postgres {
		return m, false, nil
	}
	payload, payloadArgs, err := eventPayload(m, "m")
	if err != nil {
		return m, false, err
	}
	member, eventArgs, ok := l.eventPart("message."+string(m.Kind), m.SenderID, payload, payloadArgs, "m")
	if !ok {
		return m, false, nil
	}
	text := `WITH m AS (INSERT INTO session_messages (session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at, client_msg_id)
	SELECT ?::bigint, COALESCE(MAX(seq), 0) + 1, ?::text, ?::text, ?::bigint, ?::text, ?::text, ?::text, ?::timestamptz, ?::text
	FROM session_messages WHERE session_id = ?`
	args := []any{m.SessionID, string(m.Kind), string(m.SenderKind), m.SenderID, string(m.Audience), m.Body, string(m.Payload), m.CreatedAt,
		clientMsgID(m), m.SessionID}
	if m.ClientMsgID != "" {
		// findClientMsg's search of the log, as a condition: a message
		// of the same sender with the same client_msg_id sends this one
		// to the transaction path, which tells.
		text += ` HAVING NOT EXISTS (SELECT 1 FROM session_messages d WHERE d.session_id = ? AND d.client_msg_id = ?::text
		AND d.seq > (SELECT COALESCE(MAX(seq), 0) FROM session_messages WHERE session_id = ?) - ?
		AND d.sender_kind = ?::text AND d.sender_id = ?::bigint)`
		args = append(args, m.SessionID, m.ClientMsgID, m.SessionID, DedupWindow, string(m.SenderKind), m.SenderID)
	}
	text += ` ON CONFLICT (session_id, seq) DO NOTHING RETURNING session_id, seq), e AS (` + member + `) SELECT m.seq FROM m`
	args = append(args, eventArgs...)
	stmt := appendStatements.For(text)
	for range maxSeqAttempts {
		var seqs []int64
		if err := stmt.Scan(ctx, db, &seqs, args...); err != nil {
			return m, false, err
		}
		if len(seqs) == 1 {
			m.Seq = seqs[0]
			return m, true, nil
		}
		// Nothing written: a concurrent append held the seq (see
		// insertNext), or the message may be a re-send.
		if m.ClientMsgID != "" {
			return m, false, nil
		}
	}
	return m, false, fmt.Errorf("no free seq after %d attempts", maxSeqAttempts)
}

// eventPayload is m's outbox payload, the JSON an Outbox is handed, as an
// SQL expression over the WITH member as (which returns the message's
// session_id and seq): m is encoded without them, and SQL splices them in.
func eventPayload(m Message, as string) (string, []any, error) {
	m.Seq, m.SessionID = 0, 0
	event, err := json.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("encode event: %w", err)
	}
	rest, ok := strings.CutPrefix(string(event), messageEventPrefix)
	if !ok {
		return "", nil, fmt.Errorf("message event %q does not begin with %q", event, messageEventPrefix)
	}
	return `'{"seq":' || ` + as + `.seq || ',"session_id":' || ` + as + `.session_id || ',' || ?::text`, []any{rest}, nil
}

// AppendSystem appends a system message (SESS-13: connecting to, connected,
// transferred, ended ...) that everyone in the session sees. The lead's
// session transitions call it with their transaction, then Hub.Notify after
// the commit.
func (l *Log) AppendSystem(ctx context.Context, db bun.IDB, sessionID int64, text string, payload any) (Message, error) {
	raw, err := marshalPayload(payload)
	if err != nil {
		return Message{}, err
	}
	return l.Append(ctx, db, Message{
		SessionID: sessionID, Kind: KindSystem, SenderKind: SenderSystem, Audience: AudienceAll,
		Body: text, Payload: raw,
	})
}

func normalize(m *Message) error {
	if m.SessionID <= 0 {
		return fault.Field("session_id", "must be a session ID")
	}
	if !kinds[m.Kind] {
		return fault.Field("kind", fmt.Sprintf("unknown message kind %q", m.Kind))
	}
	switch m.SenderKind {
	case SenderCustomer, SenderTechnician, SenderSystem:
	default:
		return fault.Field("sender_kind", fmt.Sprintf("unknown sender kind %q", m.SenderKind))
	}
	switch m.Audience {
	case "":
		m.Audience = AudienceAll
	case AudienceAll, AudienceTechnicians:
	default:
		return fault.Field("audience", fmt.Sprintf("unknown audience %q", m.Audience))
	}
	if m.Kind == KindNote {
		m.Audience = AudienceTechnicians
	}
	if m.SenderKind == SenderCustomer && m.Audience != AudienceAll {
		return fault.Field("audience", "a customer writes to everyone")
	}
	if utf8.RuneCountInString(m.Body) > MaxTextRunes {
		return fault.Field("text", fmt.Sprintf("at most %d characters", MaxTextRunes))
	}
	if len(m.ClientMsgID) > 128 {
		return fault.Field("client_msg_id", "at most 128 characters")
	}
	return nil
}

// insertNext takes the next free seq in one statement. Under PostgreSQL a
// concurrent writer may hold the same number uncommitted: ON CONFLICT DO
// NOTHING waits for it and inserts nothing, and the retry (read committed)
// sees its row, so numbers also become visible in order, which the catch-up
// reads rely on. SQLite serializes writers (immediate transactions) and
// never conflicts.
func insertNext(ctx context.Context, tx bun.Tx, m Message) (int64, error) {
	for range maxSeqAttempts {
		var seq int64
		err := insertNextMessage.Scan(ctx, tx, &seq,
			m.SessionID, m.Kind, m.SenderKind, m.SenderID, m.Audience, m.Body, string(m.Payload), m.CreatedAt, clientMsgID(m), m.SessionID)
		if err == nil {
			return seq, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
	}
	return 0, fmt.Errorf("no free seq after %d attempts", maxSeqAttempts)
}

// insertNextMessage is insertNext's statement. PostgreSQL types its select
// list's parameters from the target columns only through the casts.
var insertNextMessage = store.NewStatementPG(`INSERT INTO session_messages
	(session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at, client_msg_id)
	SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ? FROM session_messages WHERE session_id = ?
	ON CONFLICT (session_id, seq) DO NOTHING RETURNING seq`, `INSERT INTO session_messages
	(session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at, client_msg_id)
	SELECT ?::bigint, COALESCE(MAX(seq), 0) + 1, ?::text, ?::text, ?::bigint, ?::text, ?::text, ?::text, ?::timestamptz, ?::text
	FROM session_messages WHERE session_id = ?
	ON CONFLICT (session_id, seq) DO NOTHING RETURNING seq`)

// clientMsgID is m's client_msg_id for its column: NULL without one.
func clientMsgID(m Message) *string {
	if m.ClientMsgID == "" {
		return nil
	}
	return &m.ClientMsgID
}

// errDuplicate rolls back an append whose client_msg_id was already stored.
var errDuplicate = errors.New("duplicate client_msg_id")

// findClientMsg looks, once m is inserted at m.Seq, for an earlier message of
// the same sender with the same client_msg_id among the session's last
// DedupWindow messages. The in-memory index answers when it saw every one of
// them committed (one node, the usual case); otherwise the log is searched
// by the client_msg_id column's index (migration 16).
func (l *Log) findClientMsg(ctx context.Context, tx bun.Tx, m Message) (Message, bool, error) {
	key := idKey{sender: m.SenderKind, senderID: m.SenderID, id: m.ClientMsgID}
	if seq, known := l.ids.lookup(m.SessionID, key, m.Seq-1); known {
		if seq == 0 {
			return Message{}, false, nil
		}
		var r messageRow
		if err := tx.NewSelect().Model(&r).Where("session_id = ?", m.SessionID).Where("seq = ?", seq).Scan(ctx); err != nil {
			return Message{}, false, fmt.Errorf("look up client_msg_id: %w", err)
		}
		return l.fromRow(r), true, nil
	}
	var r messageRow
	err := tx.NewSelect().Model(&r).
		Where("session_id = ?", m.SessionID).Where("client_msg_id = ?", m.ClientMsgID).
		Where("seq > ?", m.Seq-1-DedupWindow).Where("seq < ?", m.Seq).
		Where("sender_kind = ?", m.SenderKind).Where("sender_id = ?", m.SenderID).
		OrderExpr("seq ASC").Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, false, nil
	}
	if err != nil {
		return Message{}, false, fmt.Errorf("look up client_msg_id: %w", err)
	}
	return l.fromRow(r), true, nil
}

// After returns up to limit messages of the session with seq > afterSeq that
// viewer may see, in seq order (limit <= 0: all).
func (l *Log) After(ctx context.Context, sessionID, afterSeq int64, viewer Viewer, limit int) ([]Message, error) {
	var rows []messageRow
	stmt := messagesAfter
	if viewer.Kind != SenderTechnician {
		stmt = customerMessagesAfter
	}
	n := int64(limit)
	if limit <= 0 {
		n = math.MaxInt64
	}
	if err := stmt.Scan(ctx, l.db, &rows, sessionID, afterSeq, n); err != nil {
		return nil, fmt.Errorf("read session %d after %d: %w", sessionID, afterSeq, err)
	}
	out := make([]Message, len(rows))
	for i, r := range rows {
		out[i] = l.fromRow(r)
	}
	return out, nil
}

// messagesAfter and customerMessagesAfter are After's statements, run on
// every message a connected side is sent.
var (
	messagesAfter = store.NewStatement(`SELECT ` + messageColumns +
		` FROM session_messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`)
	customerMessagesAfter = store.NewStatement(`SELECT ` + messageColumns +
		` FROM session_messages WHERE session_id = ? AND seq > ? AND audience = '` + string(AudienceAll) +
		`' AND kind <> '` + string(KindNote) + `' ORDER BY seq LIMIT ?`)
)

var messageColumns = store.Columns((*messageRow)(nil), "")

// ChatLog is the session's whole log as viewer may see it (SESS-13): chat,
// system messages, and for technicians the notes and technician-only chat.
func (l *Log) ChatLog(ctx context.Context, sessionID int64, viewer Viewer) ([]Message, error) {
	return l.After(ctx, sessionID, 0, viewer, 0)
}

// Get returns one message; fault NotFound if the session has no such seq.
func (l *Log) Get(ctx context.Context, sessionID, seq int64) (Message, error) {
	var r messageRow
	err := l.db.NewSelect().Model(&r).Where("session_id = ?", sessionID).Where("seq = ?", seq).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, fault.NotFoundf("message", "session %d has no message %d", sessionID, seq)
	}
	if err != nil {
		return Message{}, fmt.Errorf("read message %d of session %d: %w", seq, sessionID, err)
	}
	return l.fromRow(r), nil
}

// LastSeq is the highest seq of the session (0 for none).
func (l *Log) LastSeq(ctx context.Context, sessionID int64) (int64, error) {
	var last int64
	err := l.db.NewSelect().TableExpr("session_messages").ColumnExpr("COALESCE(MAX(seq), 0)").
		Where("session_id = ?", sessionID).Scan(ctx, &last)
	if err != nil {
		return 0, fmt.Errorf("last seq of session %d: %w", sessionID, err)
	}
	return last, nil
}

// ChatEnabled says whether customer chat is on in the session, given the
// chat mode of the owner's group (ORG-7): on and off are fixed; on_toggle and
// off_toggle start on and off and follow the latest chat_toggle message. The
// latest toggle is cached per session: toggles appended through this Log
// update it, Hub.Notify (which other nodes' wake-ups go through) drops it.
func (l *Log) ChatEnabled(ctx context.Context, sessionID int64, mode org.ChatMode) (bool, error) {
	switch mode {
	case org.ChatOn:
		return true, nil
	case org.ChatOff:
		return false, nil
	}
	st, version := l.toggles.get(sessionID)
	if !st.known {
		var payloads []string
		err := l.db.NewSelect().TableExpr("session_messages").Column("payload").
			Where("session_id = ?", sessionID).Where("kind = ?", KindChatToggle).
			OrderExpr("seq DESC").Limit(1).Scan(ctx, &payloads)
		if err != nil {
			return false, fmt.Errorf("chat toggle of session %d: %w", sessionID, err)
		}
		st = toggleState{known: true}
		if len(payloads) == 1 {
			var t ChatToggle
			if err := json.Unmarshal([]byte(payloads[0]), &t); err != nil {
				return false, fmt.Errorf("chat toggle of session %d: %w", sessionID, err)
			}
			st.set, st.enabled = true, t.Enabled
		}
		l.toggles.fill(sessionID, st, version)
	}
	if !st.set {
		return mode == org.ChatOnToggle, nil
	}
	return st.enabled, nil
}

// forget drops the in-memory texts of an ended session.
func (l *Log) forget(sessionID int64) {
	l.transient.forget(sessionID)
	l.ids.forget(sessionID)
	l.toggles.forget(sessionID)
}

func marshalPayload(payload any) (json.RawMessage, error) {
	switch p := payload.(type) {
	case nil:
		return json.RawMessage("{}"), nil
	case json.RawMessage:
		return p, nil
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return raw, nil
}

// withFields adds keys to a JSON object payload.
func withFields(payload json.RawMessage, fields map[string]any) (json.RawMessage, error) {
	if len(payload) == 0 || string(payload) == "null" {
		payload = json.RawMessage("{}")
	}
	if len(fields) == 0 {
		if !json.Valid(payload) {
			return nil, fault.Field("payload", "must be JSON")
		}
		return payload, nil
	}
	obj := map[string]json.RawMessage{}
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fault.Field("payload", "must be a JSON object")
	}
	for k, v := range fields {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("payload field %s: %w", k, err)
		}
		obj[k] = raw
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return raw, nil
}

func newRef() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// textCache keeps not-kept chat texts in memory, keyed by a random reference
// stored in the payload (never by seq, which a rolled-back append reuses).
type textCache struct {
	mu  sync.Mutex
	per map[int64]*textRing
}

type textRing struct {
	refs  [transientPerSession]string
	next  int
	texts map[string]string
}

func (c *textCache) put(sessionID int64, ref, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.per[sessionID]
	if r == nil {
		r = &textRing{texts: map[string]string{}}
		c.per[sessionID] = r
	}
	delete(r.texts, r.refs[r.next])
	r.refs[r.next] = ref
	r.next = (r.next + 1) % transientPerSession
	r.texts[ref] = text
}

func (c *textCache) get(sessionID int64, ref string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.per[sessionID]; r != nil {
		t, ok := r.texts[ref]
		return t, ok
	}
	return "", false
}

func (c *textCache) forget(sessionID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.per, sessionID)
}

// accepted reports whether the offer at offerSeq has a file_accept.
func (l *Log) accepted(ctx context.Context, sessionID, offerSeq int64) (bool, error) {
	var payloads []string
	err := l.db.NewSelect().TableExpr("session_messages").Column("payload").
		Where("session_id = ?", sessionID).Where("kind = ?", KindFileAccept).Where("seq > ?", offerSeq).
		Scan(ctx, &payloads)
	if err != nil {
		return false, fmt.Errorf("accepts of offer %d in session %d: %w", offerSeq, sessionID, err)
	}
	for _, p := range payloads {
		var a FileAccept
		if json.Unmarshal([]byte(p), &a) == nil && a.OfferSeq == offerSeq {
			return true, nil
		}
	}
	return false, nil
}

// SystemParts is a system message written as parts of a caller's single
// statement (the sessions service's one-statement state change on
// PostgreSQL) instead of by Append in its transaction. The stored row and
// the outbox event are the ones AppendSystem writes.
type SystemParts struct {
	// Insert is a data-modifying WITH member: it inserts the message with
	// the session's next seq for the session whose id the caller's WITH
	// member named by SystemPartsFor's from holds, RETURNING session_id and
	// seq. A concurrent writer holding that seq makes the whole statement
	// fail with a unique violation; the caller runs it again.
	Insert     string
	InsertArgs []any
	// EventType is the outbox event's type; "" when the log writes none.
	EventType string
	// EventPayload is the event's payload as an SQL expression over the
	// insert member's session_id and seq, qualified by SystemPartsFor's as.
	EventPayload     string
	EventPayloadArgs []any
}

// messageEventPrefix is how the JSON of a Message with no seq and no
// session begins; the seq and the session ID are spliced in by SQL.
const messageEventPrefix = `{"seq":0,"session_id":0,`

// SystemPartsFor renders the system message AppendSystem would append, for
// a statement in which the WITH member from holds the session's id and the
// message's own member is called as.
func (l *Log) SystemPartsFor(from, as, text string, payload any) (SystemParts, error) {
	raw, err := marshalPayload(payload)
	if err != nil {
		return SystemParts{}, err
	}
	m := Message{SessionID: 1, Kind: KindSystem, SenderKind: SenderSystem, Audience: AudienceAll, Body: text, Payload: raw}
	if err := normalize(&m); err != nil {
		return SystemParts{}, err
	}
	if m.Payload, err = withFields(m.Payload, nil); err != nil {
		return SystemParts{}, err
	}
	m.SessionID = 0
	m.CreatedAt = l.now().UTC().Truncate(time.Microsecond)
	p := SystemParts{
		Insert: `INSERT INTO session_messages (session_id, seq, kind, sender_kind, sender_id, audience, body, payload, created_at)
	SELECT ` + from + `.id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM session_messages WHERE session_id = ` + from + `.id),
		?::text, ?::text, ?::bigint, ?::text, ?::text, ?::text, ?::timestamptz FROM ` + from + ` RETURNING session_id, seq`,
		InsertArgs: []any{string(m.Kind), string(m.SenderKind), m.SenderID, string(m.Audience), m.Body, string(m.Payload), m.CreatedAt},
	}
	if l.outbox == nil {
		return p, nil
	}
	if p.EventPayload, p.EventPayloadArgs, err = eventPayload(m, as); err != nil {
		return SystemParts{}, err
	}
	p.EventType = "message." + string(KindSystem)
	return p, nil
}
