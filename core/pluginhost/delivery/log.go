package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Filter selects entries of a plugin's delivery log.
type Filter struct {
	State    State     // "" means any; Blocked lists those waiting for an earlier one of their session
	From, To time.Time // event time in [From, To); zero means unbounded
	Limit    int       // 0 means DefaultLogLimit; at most MaxLogLimit
	BeforeID int64     // only deliveries with a lower id: the next page
}

// Limits of one page of the delivery log.
const (
	DefaultLogLimit = 50
	MaxLogLimit     = 500
)

// DeliveryView is a delivery as the log shows it, with every attempt. Its
// State is one of pending, blocked (waiting for an earlier delivery of the
// same session), running, delivered, failed or skipped. A blocked
// delivery's NextAt means nothing yet: it becomes pending, due at once,
// when the earlier delivery of its session ends.
type DeliveryView struct {
	ID          int64           `json:"id"`
	Plugin      string          `json:"plugin"`
	EventID     int64           `json:"seq"`
	StableID    string          `json:"event_id"`
	SessionID   int64           `json:"session_id"`
	Type        string          `json:"event_type"`
	ActorID     int64           `json:"actor_id"`
	Payload     json.RawMessage `json:"payload"`
	EventAt     time.Time       `json:"event_at"`
	State       State           `json:"state"`
	Attempts    int             `json:"attempts"`
	NextAt      time.Time       `json:"next_at"` // with Pending: not before; see above for Blocked
	CreatedAt   time.Time       `json:"created_at"`
	DeliveredAt *time.Time      `json:"delivered_at"`
	LastError   string          `json:"last_error"`
	History     []Attempt       `json:"history"` // oldest first
}

// Attempt is one attempt of a delivery.
type Attempt struct {
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"-"`
	Outcome  Outcome       `json:"outcome"`
	Error    string        `json:"error"`
}

// MarshalJSON gives the duration in whole milliseconds, as the API documents.
func (a Attempt) MarshalJSON() ([]byte, error) {
	type plain Attempt
	return json.Marshal(struct {
		plain
		DurationMS int64 `json:"duration_ms"`
	}{plain(a), a.Duration.Milliseconds()})
}

// Deliveries returns a page of plugin's delivery log, newest first.
func (q *Queue) Deliveries(ctx context.Context, plugin string, f Filter) ([]DeliveryView, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	limit = min(limit, MaxLogLimit)
	var rows []deliveryRow
	sel := q.cfg.DB.NewSelect().Model(&rows).Where("plugin_id = ?", plugin)
	if f.State != "" {
		sel = sel.Where("state = ?", string(f.State))
	}
	if !f.From.IsZero() {
		sel = sel.Where("event_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		sel = sel.Where("event_at < ?", f.To.UTC())
	}
	if f.BeforeID > 0 {
		sel = sel.Where("id < ?", f.BeforeID)
	}
	if err := sel.OrderExpr("id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list deliveries of plugin %s: %w", plugin, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]DeliveryView, len(rows))
	byID := make(map[int64]*DeliveryView, len(rows))
	ids := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = DeliveryView{
			ID: r.ID, Plugin: r.PluginID, EventID: r.EventID, StableID: StableID(r.EventID),
			SessionID: r.SessionID, Type: r.EventType, ActorID: r.ActorID, Payload: json.RawMessage(r.Payload),
			EventAt: r.EventAt.UTC(), State: State(r.State), Attempts: r.Attempts, NextAt: r.NextAt.UTC(),
			CreatedAt: r.CreatedAt.UTC(), DeliveredAt: utcPtr(r.DeliveredAt), LastError: r.LastError,
		}
		byID[r.ID] = &out[i]
		ids[i] = r.ID
	}
	var attempts []attemptRow
	err := q.cfg.DB.NewSelect().Model(&attempts).Where("delivery_id IN (?)", bun.In(ids)).OrderExpr("id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list delivery attempts of plugin %s: %w", plugin, err)
	}
	for _, a := range attempts {
		v := byID[a.DeliveryID]
		v.History = append(v.History, Attempt{At: a.At.UTC(), Duration: time.Duration(a.DurationMS) * time.Millisecond,
			Outcome: Outcome(a.Outcome), Error: a.Error})
	}
	return out, nil
}

// Replay sends a failed delivery again with a fresh retry window; its
// attempts stay in the log. It becomes pending, due now, if its plugin has
// no other unfinished delivery of the same session; otherwise it waits
// blocked and goes next when the session's current delivery ends (the
// blocked one with the lowest event id goes first, and a replayed one has
// an older event than those enqueued after it). It returns 1, or 0 when
// plugin has no failed delivery with that id.
func (q *Queue) Replay(ctx context.Context, plugin string, id int64) (int, error) {
	n, err := q.replay(ctx, "plugin_id = ? AND id = ?", plugin, id)
	if err != nil {
		return 0, fmt.Errorf("replay delivery %d of plugin %s: %w", id, plugin, err)
	}
	return n, nil
}

// ReplayRange replays every failed delivery of plugin whose event happened
// in [from, to), as Replay does, and returns how many. Several of one
// session are sent in the order of their events.
func (q *Queue) ReplayRange(ctx context.Context, plugin string, from, to time.Time) (int, error) {
	n, err := q.replay(ctx, "plugin_id = ? AND event_at >= ? AND event_at < ?", plugin, from.UTC(), to.UTC())
	if err != nil {
		return 0, fmt.Errorf("replay deliveries of plugin %s from %s to %s: %w", plugin, from, to, err)
	}
	return n, nil
}

// replay blocks the failed deliveries matched by where, then promotes the
// first of each session that has no pending or running delivery, in one
// transaction.
func (q *Queue) replay(ctx context.Context, where string, args ...any) (int, error) {
	now := q.now()
	var ids []int64
	err := q.cfg.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewRaw(`UPDATE plugin_deliveries SET state = 'blocked', next_at = ?,
	window_start = NULL, window_attempts = 0, lease_until = NULL
WHERE state = 'failed' AND `+where+` RETURNING id`, append([]any{now}, args...)...).Scan(ctx, &ids)
		if err != nil || len(ids) == 0 {
			return err
		}
		_, err = promote(ctx, tx, ids, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		q.log.Info("replaying failed deliveries", "deliveries", len(ids))
		q.Wake()
	}
	return len(ids), nil
}

// Recover hands back every delivery this node (Config.Node) left running,
// to be sent again at once: call it when the hub starts, before Run, so
// that deliveries cut short by a crash are not held until their lease
// expires. Each gets an error attempt in the log.
func (q *Queue) Recover(ctx context.Context) (int, error) {
	return q.handBack(ctx, "interrupted: the hub stopped during the delivery",
		"state = 'running' AND claimed_by = ?", q.cfg.Node)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Retention is how long the delivery log keeps deliveries that ended well
// (delivered, or skipped by the plugin); failed ones stay until replayed.
const Retention = 30 * 24 * time.Hour

// Prune deletes the deliveries that ended well before the retention
// period, with their attempts, and returns how many went. Failed, pending,
// running and blocked deliveries are never pruned.
func (q *Queue) Prune(ctx context.Context) (int64, error) {
	before := q.now().Add(-Retention)
	res, err := q.cfg.DB.NewDelete().TableExpr("plugin_deliveries").
		Where("state IN ('delivered', 'skipped') AND COALESCE(delivered_at, created_at) < ?", before).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
