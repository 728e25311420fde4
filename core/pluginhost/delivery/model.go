package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/sdk"
)

// State is where a delivery stands.
type State string

const (
	Pending   State = "pending"   // its session's next one: waiting for its next attempt or a ready plugin
	Blocked   State = "blocked"   // waiting for an earlier delivery of the same plugin and session to end
	Running   State = "running"   // claimed by a worker
	Delivered State = "delivered" // acknowledged by the plugin
	Failed    State = "failed"    // permanent failure or retries exhausted; can be replayed
	Skipped   State = "skipped"   // not sent, e.g. the plugin is disabled for the session's unit
)

// Final reports whether s is an end state, which lets the next delivery of
// the same plugin and session go (it is promoted from blocked to pending).
func (s State) Final() bool { return s == Delivered || s == Failed || s == Skipped }

// Outcome of one attempt, as kept in plugin_delivery_attempts.
type Outcome string

const (
	OutcomeAck       Outcome = "ack"
	OutcomeRetry     Outcome = "retry"     // the plugin asked for a retry
	OutcomePermanent Outcome = "permanent" // the plugin failed it for good
	OutcomeError     Outcome = "error"     // no answer: transport error, panic, timeout, crash
	OutcomeSkipped   Outcome = "skipped"
)

// ErrSkip, returned (wrapped or not) by a DeliverFunc, marks the delivery
// skipped without retrying: the plugin was deliberately not called, e.g.
// because it is disabled for the session's unit. The error's text is kept
// in the attempt's log entry.
var ErrSkip = errors.New("delivery skipped")

// DeliverFunc sends one delivery to its plugin. A nil error means the
// plugin answered with the result. ErrSkip marks the delivery skipped; any
// other error (the plugin could not be reached, or ctx ended) counts as an
// attempt to retry with backoff.
type DeliverFunc func(ctx context.Context, d Delivery) (sdk.Result, error)

// Delivery is one attempt to send an event to a plugin.
type Delivery struct {
	ID        int64  // the delivery's row id
	Plugin    string // plugin id
	EventID   int64  // session_events.id
	StableID  string // "evt_<EventID>", the same on every attempt and replay
	SessionID int64
	Type      string
	ActorID   int64
	Payload   json.RawMessage
	At        time.Time // when the event happened
	Attempt   int       // 1 on the first attempt; counts on across replays
}

// Event is the delivery as the SDK describes it; the caller fills UnitID
// and Config.
func (d Delivery) Event() sdk.Event {
	return sdk.Event{
		ID: d.StableID, Seq: d.EventID, Type: d.Type, SessionID: d.SessionID, ActorID: d.ActorID,
		At: d.At, Payload: d.Payload, Attempt: d.Attempt,
	}
}

// deliveryRow is a row of plugin_deliveries.
type deliveryRow struct {
	bun.BaseModel `bun:"table:plugin_deliveries"`

	ID             int64      `bun:"id"`
	PluginID       string     `bun:"plugin_id"`
	EventID        int64      `bun:"event_id"`
	SessionID      int64      `bun:"session_id"`
	EventType      string     `bun:"event_type"`
	ActorID        int64      `bun:"actor_id"`
	Payload        string     `bun:"payload"`
	EventAt        time.Time  `bun:"event_at"`
	State          string     `bun:"state"`
	Attempts       int        `bun:"attempts"`
	WindowStart    *time.Time `bun:"window_start"`
	WindowAttempts int        `bun:"window_attempts"`
	NextAt         time.Time  `bun:"next_at"`
	CreatedAt      time.Time  `bun:"created_at"`
	LeaseUntil     *time.Time `bun:"lease_until"`
	DeliveredAt    *time.Time `bun:"delivered_at"`
	LastError      string     `bun:"last_error"`
}

func (r deliveryRow) delivery() Delivery {
	return Delivery{
		ID: r.ID, Plugin: r.PluginID, EventID: r.EventID, StableID: StableID(r.EventID),
		SessionID: r.SessionID, Type: r.EventType, ActorID: r.ActorID,
		Payload: json.RawMessage(r.Payload), At: r.EventAt.UTC(), Attempt: r.Attempts,
	}
}

// attemptRow is a row of plugin_delivery_attempts.
type attemptRow struct {
	bun.BaseModel `bun:"table:plugin_delivery_attempts"`

	ID         int64     `bun:"id,pk,autoincrement"`
	DeliveryID int64     `bun:"delivery_id"`
	At         time.Time `bun:"at"`
	DurationMS int64     `bun:"duration_ms"`
	Outcome    string    `bun:"outcome"`
	Error      string    `bun:"error"`
}
