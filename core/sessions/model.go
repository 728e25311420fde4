package sessions

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/session"
)

// Queue kinds: where a queued session waits.
const (
	QueueChannel    = "channel"
	QueueGroup      = "group"
	QueueTechnician = "technician"
)

type row struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`

	ID                 int64      `bun:"id,pk,autoincrement"`
	Kind               string     `bun:"kind,notnull"`
	State              string     `bun:"state,notnull"`
	ChannelID          *int64     `bun:"channel_id"`
	TechGroupID        *int64     `bun:"tech_group_id"`
	TechnicianID       *int64     `bun:"technician_id"`
	CreatorID          *int64     `bun:"creator_id"`
	QueueKind          string     `bun:"queue_kind,notnull"`
	QueueID            int64      `bun:"queue_id,notnull"`
	PrevQueueKind      string     `bun:"prev_queue_kind,notnull"`
	PrevQueueID        int64      `bun:"prev_queue_id,notnull"`
	PIN                *string    `bun:"pin"`
	PINExpiresAt       *time.Time `bun:"pin_expires_at"`
	CustomerName       string     `bun:"customer_name,notnull"`
	CField0            string     `bun:"cfield0,notnull"`
	CField1            string     `bun:"cfield1,notnull"`
	CField2            string     `bun:"cfield2,notnull"`
	CField3            string     `bun:"cfield3,notnull"`
	CField4            string     `bun:"cfield4,notnull"`
	CField5            string     `bun:"cfield5,notnull"`
	TrackingID         string     `bun:"tracking_id,notnull"`
	ClientKind         string     `bun:"client_kind,notnull"`
	Platform           string     `bun:"platform,notnull"`
	Language           string     `bun:"language,notnull"`
	Test               bool       `bun:"test,notnull"`
	CustomerSecretHash string     `bun:"customer_secret_hash,notnull"`
	Transmitted        int64      `bun:"transmitted,notnull"`
	ToolsUsed          string     `bun:"tools_used,notnull"`
	Aggregate          string     `bun:"aggregate,notnull"`
	Version            int64      `bun:"version,notnull"`
	CreatedAt          time.Time  `bun:"created_at,notnull"`
	UpdatedAt          time.Time  `bun:"updated_at,notnull"`
	EndedAt            *time.Time `bun:"ended_at"`
}

func (r *row) fields() Fields {
	return Fields{CField: [FieldCount]string{r.CField0, r.CField1, r.CField2, r.CField3, r.CField4, r.CField5}, TrackingID: r.TrackingID}
}

func (r *row) setFields(f Fields) {
	r.CField0, r.CField1, r.CField2, r.CField3, r.CField4, r.CField5 = f.CField[0], f.CField[1], f.CField[2], f.CField[3], f.CField[4], f.CField[5]
	r.CustomerName = f.CField[0]
	r.TrackingID = f.TrackingID
}

func (r *row) aggregate() (*session.Session, error) {
	var s session.Session
	if err := json.Unmarshal([]byte(r.Aggregate), &s); err != nil {
		return nil, fmt.Errorf("decode session %d: %w", r.ID, err)
	}
	s.ID = r.ID // the row's key is the session's ID
	return &s, nil
}

// absorb copies the aggregate into the row's columns.
func (r *row) absorb(s *session.Session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session %d: %w", r.ID, err)
	}
	r.Aggregate = string(b)
	r.State = string(s.State)
	if s.TechnicianID != 0 {
		id := s.TechnicianID
		r.TechnicianID = &id
	} else {
		r.TechnicianID = nil
	}
	if !s.State.Live() {
		r.EndedAt = s.EndedAt
		r.PIN = nil
	}
	return nil
}

// Session is a stored session as the API shows it.
type Session struct {
	ID           int64            `json:"id"`
	Kind         session.Kind     `json:"kind"`
	State        session.State    `json:"state"`
	StateLabel   string           `json:"state_label"`
	ChannelID    *int64           `json:"channel_id"`
	TechGroupID  *int64           `json:"tech_group_id"`
	TechnicianID *int64           `json:"technician_id"`
	CreatorID    *int64           `json:"creator_id"`
	QueueKind    string           `json:"queue_kind"`
	QueueID      int64            `json:"queue_id"`
	PINExpiresAt *time.Time       `json:"pin_expires_at,omitempty"`
	CustomerName string           `json:"customer_name"`
	Fields       Fields           `json:"fields"`
	ClientKind   string           `json:"client_kind"`
	Platform     string           `json:"platform"`
	Language     string           `json:"language"`
	Test         bool             `json:"test"`
	CreatedAt    time.Time        `json:"created_at"`
	EndedAt      *time.Time       `json:"ended_at"`
	Failed       bool             `json:"failed"`
	Missed       bool             `json:"missed"`
	Buckets      Seconds          `json:"time_seconds"`
	Transmitted  int64            `json:"transmitted_bytes"`
	ToolsUsed    []string         `json:"tools_used"`
	Aggregate    *session.Session `json:"-"`
}

// Seconds are the RPT-3 time buckets in whole seconds, as reports show them.
type Seconds struct {
	Connecting int64 `json:"connecting"`
	Waiting    int64 `json:"waiting"`
	Active     int64 `json:"active"`
	Hold       int64 `json:"hold"`
	Transfer   int64 `json:"transfer"`
	Reboot     int64 `json:"reboot"`
	Reconnect  int64 `json:"reconnect"`
	Total      int64 `json:"total"`
}

func secondsOf(b session.Buckets) Seconds {
	s := func(d time.Duration) int64 { return int64(d / time.Second) }
	return Seconds{Connecting: s(b.Connecting), Waiting: s(b.Waiting), Active: s(b.Active), Hold: s(b.Hold),
		Transfer: s(b.Transfer), Reboot: s(b.Reboot), Reconnect: s(b.Reconnect), Total: s(b.Total())}
}

func (r *row) view(now time.Time) (Session, error) {
	agg, err := r.aggregate()
	if err != nil {
		return Session{}, err
	}
	return r.viewOf(agg, now)
}

// viewOf is view with the row's aggregate already decoded (or just
// absorbed into it): the view keeps agg.
func (r *row) viewOf(agg *session.Session, now time.Time) (Session, error) {
	v := Session{ID: r.ID, Kind: session.Kind(r.Kind), State: agg.State, StateLabel: agg.State.Label(),
		ChannelID: r.ChannelID, TechGroupID: r.TechGroupID, TechnicianID: r.TechnicianID, CreatorID: r.CreatorID,
		QueueKind: r.QueueKind, QueueID: r.QueueID, CustomerName: r.CustomerName, Fields: r.fields(),
		ClientKind: r.ClientKind, Platform: r.Platform, Language: r.Language, Test: r.Test, CreatedAt: r.CreatedAt, EndedAt: r.EndedAt,
		Failed: agg.Failed(), Missed: agg.Missed(), Buckets: secondsOf(agg.BucketsAt(now)), Aggregate: agg,
		Transmitted: r.Transmitted, ToolsUsed: []string{}}
	if r.ToolsUsed != "" {
		if err := json.Unmarshal([]byte(r.ToolsUsed), &v.ToolsUsed); err != nil {
			return Session{}, fmt.Errorf("decode tools of session %d: %w", r.ID, err)
		}
	}
	if r.PIN != nil {
		v.PINExpiresAt = r.PINExpiresAt
	}
	return v, nil
}

// eventRow is one outbox entry.
type eventRow struct {
	bun.BaseModel `bun:"table:session_events"`

	ID        int64     `bun:"id,pk,autoincrement"`
	SessionID int64     `bun:"session_id,notnull"`
	Type      string    `bun:"type,notnull"`
	ActorID   int64     `bun:"actor_id,notnull"`
	Payload   string    `bun:"payload,notnull"`
	At        time.Time `bun:"at,notnull"`
}

func (e eventRow) event() Event {
	return Event{ID: e.ID, SessionID: e.SessionID, Type: e.Type, ActorID: e.ActorID, Payload: json.RawMessage(e.Payload), At: e.At}
}

// Event is an outbox entry as the plugin host reads it.
type Event struct {
	ID        int64           `json:"id"`
	SessionID int64           `json:"session_id"`
	Type      string          `json:"type"`
	ActorID   int64           `json:"actor_id"`
	Payload   json.RawMessage `json:"payload"`
	At        time.Time       `json:"at"`
}

type attemptRow struct {
	bun.BaseModel `bun:"table:pin_attempts"`

	ID      int64     `bun:"id,pk,autoincrement"`
	IP      string    `bun:"ip,notnull"`
	Success bool      `bun:"success,notnull"`
	At      time.Time `bun:"at,notnull"`
}

// requeue moves the row to another queue, remembering the one it leaves (or
// the technician it leaves) so that side sees it as outgoing (SESS-10, Q-1).
func (r *row) requeue(kind string, id int64, fromTechnician int64) {
	if fromTechnician != 0 {
		r.PrevQueueKind, r.PrevQueueID = QueueTechnician, fromTechnician
	} else {
		r.PrevQueueKind, r.PrevQueueID = r.QueueKind, r.QueueID
	}
	r.QueueKind, r.QueueID = kind, id
}
