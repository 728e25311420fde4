package sessions

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
)

// QueueEntry is one line of a technician's queue.
type QueueEntry struct {
	Session
	// Direction is "incoming" for sessions transferred or auto-transferred
	// into this queue, "outgoing" for those transferred out of it and not yet
	// picked up (shown as Transferred to the origin, SESS-10), "" otherwise
	// (SESS-4 Incoming/Outgoing, Q-1).
	Direction     string  `json:"direction,omitempty"`
	TransferredBy *int64  `json:"transferred_by,omitempty"` // 0 = System
	Comment       string  `json:"transfer_comment,omitempty"`
	WaitingFor    float64 `json:"waiting_seconds"`
	// Priority is the session priority a routing rule gave the session in
	// the queue it waits in (0 to 100, higher is picked up first; 0 when no
	// rule gave one).
	Priority int `json:"priority"`
}

// waitingKey is what orders waiting sessions.
type waitingKey struct {
	priority int
	since    time.Time // when it started waiting in its queue
	id       int64
}

// pickOrder is the order in which waiting sessions are offered, as in
// Twilio TaskRouter: higher priority first, then the one waiting longest,
// then the older one.
func pickOrder(a, b waitingKey) int {
	if c := cmp.Compare(b.priority, a.priority); c != 0 {
		return c
	}
	if c := a.since.Compare(b.since); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// pickable says the technician could pick the entry up: it waits in their
// queue (not one it was transferred out of).
func (e *QueueEntry) pickable() bool {
	return (e.State == session.Waiting || e.State == session.Transferring) && e.Direction != "outgoing"
}

// sortQueue puts the sessions the technician could pick up first, in pick
// order, and the others (pending codes, sessions at work, outgoing
// transfers) after them by ID.
func sortQueue(q []QueueEntry) {
	slices.SortStableFunc(q, func(a, b QueueEntry) int {
		pa, pb := a.pickable(), b.pickable()
		switch {
		case pa && pb:
			return pickOrder(waitingKey{a.Priority, a.Aggregate.StateSince, a.ID}, waitingKey{b.Priority, b.Aggregate.StateSince, b.ID})
		case pa != pb:
			if pa {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
}

// liveStates are the states a queue shows.
var liveStates = []session.State{session.Pending, session.Connecting, session.Waiting, session.Active,
	session.OnHold, session.Transferring, session.Rebooting, session.Reconnecting}

// Queue is the technician's view (SESS-9, SESS-16, CH-2): waiting channel
// sessions of their groups' channels minus exclusions, their private and
// transferred-in sessions, and the sessions they work on. The sessions they
// could pick up come first, highest priority first, then longest waiting.
func (s *Service) Queue(ctx context.Context, actor org.Actor) ([]QueueEntry, error) {
	t, err := s.technician(ctx, actor)
	if err != nil {
		return nil, err
	}
	var rows []row
	if err := s.DB.NewSelect().Model(&rows).Where("state IN (?)", bun.In(liveStates)).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load queue: %w", err)
	}
	now := s.now()
	out := []QueueEntry{}
	chans := &channels{org: s.Org}
	for i := range rows {
		r := &rows[i]
		mine := r.TechnicianID != nil && *r.TechnicianID == t.ID
		if !mine && r.QueueKind != "" {
			ok, err := s.eligible(ctx, chans, t, r)
			if err != nil {
				return nil, err
			}
			mine = ok
		}
		outgoing := false
		if !mine && r.PrevQueueKind != "" {
			prev := *r
			prev.QueueKind, prev.QueueID = r.PrevQueueKind, r.PrevQueueID
			ok, err := s.eligible(ctx, chans, t, &prev)
			if err != nil {
				return nil, err
			}
			outgoing = ok
		}
		if !mine && !outgoing {
			continue
		}
		v, err := r.view(now)
		if err != nil {
			return nil, err
		}
		e := QueueEntry{Session: v}
		if v.Aggregate.State == session.Waiting || v.Aggregate.State == session.Transferring {
			e.WaitingFor = now.Sub(v.Aggregate.StateSince).Seconds()
		}
		rt, _, err := s.currentRoute(ctx, chans, r)
		if err != nil {
			return nil, err
		}
		e.Priority = rt.priority(r)
		if tr := v.Aggregate.LastTransfer; tr != nil && r.QueueKind != "" {
			from := tr.From
			e.Direction, e.TransferredBy, e.Comment = "incoming", &from, tr.Comment
			if outgoing {
				e.Direction = "outgoing"
			}
		}
		out = append(out, e)
	}
	sortQueue(out)
	return out, nil
}

// Status is what a waiting customer sees.
type Status struct {
	Session       Session `json:"session"`
	Position      int     `json:"position,omitempty"`
	EstimatedWait float64 `json:"estimated_wait_seconds,omitempty"`
	Terms         *Terms  `json:"terms,omitempty"`
	// RedirectURL is where to send a customer whose session ended because
	// no technician was available.
	RedirectURL string `json:"redirect_url,omitempty"`
}

// Estimator turns recent response times into an estimate (core/queue).
type Estimator func(responseTimes []time.Duration, position int) time.Duration

// CustomerStatus is the customer's view of their session: state, place in
// the queue and estimated waiting time (SESS-11), kept current by polling
// or by the relay's state pushes.
func (s *Service) CustomerStatus(ctx context.Context, secret string, estimate Estimator) (Status, error) {
	v, err := s.ByCustomerSecret(ctx, secret)
	if err != nil {
		return Status{}, err
	}
	st := Status{Session: v}
	if v.State == session.Connecting {
		var r row
		if err := s.DB.NewSelect().Model(&r).Where("id = ?", v.ID).Scan(ctx); err != nil {
			return Status{}, err
		}
		t, err := s.Policy.Terms(ctx, unitOf(&r))
		if err != nil {
			return Status{}, err
		}
		if t.Enabled {
			st.Terms = t
		}
	}
	if v.Aggregate.EndReason == session.NoTechnician {
		evs, err := s.Events(ctx, v.ID)
		if err != nil {
			return Status{}, err
		}
		for _, e := range evs {
			var p struct {
				URL string `json:"redirect_url"`
			}
			if e.Type == "session.closed" && json.Unmarshal(e.Payload, &p) == nil {
				st.RedirectURL = p.URL
			}
		}
	}
	if v.State != session.Waiting && v.State != session.Transferring {
		return st, nil
	}
	pos, err := s.position(ctx, v)
	if err != nil {
		return Status{}, err
	}
	st.Position = pos
	if estimate != nil {
		rts, err := s.recentResponseTimes(ctx, v)
		if err != nil {
			return Status{}, err
		}
		st.EstimatedWait = estimate(rts, st.Position).Seconds()
	}
	return st, nil
}

// position is a queued session's place in its queue (1 = next): one more
// than the sessions of the queue with a higher priority, or the same
// priority and an earlier arrival. Ties go by arrival (created_at), not by
// the time waited in this queue as in the technician's listing: the two
// differ only for sessions transferred in, and counting in SQL keeps a
// customer's poll one query however long the queue.
func (s *Service) position(ctx context.Context, v Session) (int, error) {
	// The session's own priority, read in the same statement.
	var mine any = 0
	if v.State == session.Waiting {
		mine = s.DB.NewSelect().Model((*routeRow)(nil)).ColumnExpr("COALESCE(MAX(priority), 0)").
			Where("session_id = ? AND queue_kind = ? AND queue_id = ?", v.ID, v.QueueKind, v.QueueID)
	}
	var ahead int
	err := s.DB.NewSelect().TableExpr("sessions AS s").ColumnExpr("count(*)").
		Join("LEFT JOIN session_routing AS sr ON sr.session_id = s.id AND sr.queue_kind = s.queue_kind AND sr.queue_id = s.queue_id AND s.state = ?", session.Waiting).
		Where("s.queue_kind = ? AND s.queue_id = ? AND s.state IN (?) AND s.id <> ?", v.QueueKind, v.QueueID,
			bun.In([]session.State{session.Waiting, session.Transferring}), v.ID).
		Where("COALESCE(sr.priority, 0) > (?) OR (COALESCE(sr.priority, 0) = (?) AND s.created_at < ?)", mine, mine, v.CreatedAt).
		Scan(ctx, &ahead)
	if err != nil {
		return 0, fmt.Errorf("queue position: %w", err)
	}
	return ahead + 1, nil
}

// recentResponseTimes are the response times of the last 20 sessions picked
// up from the same channel, or by the same technician for private sessions
// (SESS-11).
func (s *Service) recentResponseTimes(ctx context.Context, v Session) ([]time.Duration, error) {
	q := s.DB.NewSelect().Model((*row)(nil)).Column("aggregate").Where("technician_id IS NOT NULL")
	if v.ChannelID != nil {
		q = q.Where("channel_id = ?", *v.ChannelID)
	} else if v.CreatorID != nil {
		q = q.Where("technician_id = ?", *v.CreatorID)
	}
	var aggs []string
	if err := q.OrderExpr("id DESC").Limit(20).Scan(ctx, &aggs); err != nil {
		return nil, fmt.Errorf("recent response times: %w", err)
	}
	var out []time.Duration
	for _, a := range aggs {
		r := row{Aggregate: a}
		agg, err := r.aggregate()
		if err != nil {
			continue
		}
		if d, ok := agg.ResponseTime(); ok {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}
