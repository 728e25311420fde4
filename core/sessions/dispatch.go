package sessions

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/session"
)

// Dispatching: what happens to a session that starts waiting. Outside
// working hours, or with nobody available, the unit's behaviour applies
// keep, e-mail the technicians who could take it, or end and send
// the customer to a URL); otherwise auto-start gives it to the least busy
// technician when the channel asks for it.

// Dispatcher is what dispatching needs beyond the session store.
type Dispatcher interface {
	// Candidate describes a technician for auto-start; ok is false when
	// their group's maximum of active sessions is reached.
	Candidate(ctx context.Context, technicianID int64) (c queue.Candidate, ok bool, err error)
	AutoStart(ctx context.Context, channelID int64) (enabled bool, maxActive int, err error)
	WorkingHours(ctx context.Context, unitID int64) (queue.WorkingHours, error)
	// Mail e-mails technicians; an error is logged, the session stays.
	Mail(ctx context.Context, to []string, subject, body string) error
}

// Dispatch applies working hours and auto-start to a waiting session. It is
// safe to call at any time and more than once: a session not waiting is left
// alone, and the "email" behaviour mails once per queue.
func (s *Service) Dispatch(ctx context.Context, id int64) error {
	if s.Dispatcher == nil {
		return nil
	}
	cur, prev, err := s.getRouted(ctx, id)
	if err != nil || cur.State != session.Waiting {
		return ignoreGone(err)
	}
	techs, err := s.queueTechnicians(ctx, cur)
	if err != nil {
		return err
	}
	techs = s.route(ctx, cur, prev, techs)
	unit := cur.QueueID
	if cur.QueueKind != QueueChannel && cur.TechGroupID != nil {
		unit = *cur.TechGroupID
	}
	wh, err := s.Dispatcher.WorkingHours(ctx, unit)
	if err != nil {
		return err
	}
	autoStart, maxActive := false, 0
	if cur.QueueKind == QueueChannel {
		if autoStart, maxActive, err = s.Dispatcher.AutoStart(ctx, cur.QueueID); err != nil {
			return err
		}
	}
	now := s.now()
	// Who is available matters only to auto-start and to a behaviour that
	// differs when nobody is: otherwise the technicians are not looked up.
	var cands []queue.Candidate
	available := false
	if autoStart || (wh.Open(now) && wh.DuringHoursNoTech != queue.BehaviourKeep) {
		for _, t := range techs {
			c, ok, err := s.Dispatcher.Candidate(ctx, t)
			if err != nil {
				return err
			}
			if ok {
				cands = append(cands, c)
				available = available || c.Status == queue.StatusOnline
			}
		}
	}
	switch wh.Decide(now, available) {
	case queue.BehaviourEnd:
		return s.endNoTechnician(ctx, id, wh.EndURL)
	case queue.BehaviourEmail:
		s.mailOnce(ctx, cur, techs)
	}
	if !available || !autoStart {
		return nil
	}
	tech, ok := queue.PickLeastBusy(cands, maxActive)
	if !ok {
		return nil
	}
	t, err := s.technician(ctx, org.Actor{ID: tech, Role: org.KindTechnician})
	if err != nil {
		return err
	}
	_, err = s.pickUp(ctx, t, id, "session.picked_up", "auto_start")
	return err
}

// queueTechnicians are those who see the session's queue.
func (s *Service) queueTechnicians(ctx context.Context, v Session) ([]int64, error) {
	switch v.QueueKind {
	case QueueChannel:
		return s.Org.ChannelTechnicians(ctx, v.QueueID)
	case QueueTechnician:
		return []int64{v.QueueID}, nil
	case QueueGroup:
		ms, err := s.Org.ListMembers(ctx, org.MasterScope(0), org.MemberFilter{GroupID: v.QueueID, Role: org.KindTechnician})
		if err != nil {
			return nil, err
		}
		out := make([]int64, 0, len(ms))
		for _, m := range ms {
			if m.Enabled {
				out = append(out, m.ID)
			}
		}
		return out, nil
	}
	return nil, nil
}

func (s *Service) endNoTechnician(ctx context.Context, id int64, url string) error {
	_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if err := agg.EndNoTechnician(now); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: "session.closed", payload: map[string]any{"reason": session.NoTechnician, "redirect_url": url},
			system: "No technician is available; the session ended."}, nil
	})
	return err
}

// mailOnce e-mails the technicians who could take the session, once per
// queue it waits in: an outbox event records that it was sent.
func (s *Service) mailOnce(ctx context.Context, v Session, techs []int64) {
	marker := fmt.Sprintf("%s:%d", v.QueueKind, v.QueueID)
	evs, err := s.Events(ctx, v.ID)
	if err != nil {
		s.logger().Error("no-technician e-mail", "session", v.ID, "error", err)
		return
	}
	for _, e := range evs {
		if e.Type == "session.technicians_emailed" && string(e.Payload) == fmt.Sprintf(`{"queue":%q}`, marker) {
			return
		}
	}
	var to []string
	for _, t := range techs {
		if m, err := s.Org.MemberByID(ctx, t); err == nil && m.Enabled {
			to = append(to, m.Email)
		}
	}
	if len(to) == 0 {
		return
	}
	subject := fmt.Sprintf("A customer is waiting: session %d", v.ID)
	body := fmt.Sprintf("A customer (%s) is waiting for help in session %d and no technician is available.\r\nOpen the technician console to pick it up.\r\n", v.CustomerName, v.ID)
	if err := s.Dispatcher.Mail(ctx, to, subject, body); err != nil {
		s.logger().Error("no-technician e-mail", "session", v.ID, "error", err)
		return
	}
	if err := s.event(ctx, s.DB, v.ID, change{event: "session.technicians_emailed", payload: map[string]any{"queue": marker}}, s.now()); err != nil {
		s.logger().Error("record no-technician e-mail", "session", v.ID, "error", err)
	}
}

// DispatchWaiting re-dispatches the sessions waiting in channel queues (the
// ones auto-start may give away), e.g. when a technician comes online or
// finishes a session, in pick order: auto-start gives a technician who
// becomes free the highest-priority session first, then the one waiting
// longest. Sessions in a technician's or a group's queue were dispatched
// when they started waiting, and more availability changes nothing for
// them.
func (s *Service) DispatchWaiting(ctx context.Context) error {
	ids, err := s.waitingInPickOrder(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.Dispatch(ctx, id); err != nil {
			s.logger().Warn("dispatch", "session", id, "error", err)
		}
	}
	return nil
}

// waitingInPickOrder lists the sessions waiting in channel queues in
// pickOrder.
func (s *Service) waitingInPickOrder(ctx context.Context) ([]int64, error) {
	var rows []row
	if err := waitingInChannels.Scan(ctx, s.DB, &rows); err != nil {
		return nil, fmt.Errorf("list waiting sessions: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var routes map[int64]routeRow
	if s.Routing != nil {
		var err error
		if routes, err = s.waitingRoutes(ctx); err != nil {
			return nil, err
		}
	}
	keys := make([]waitingKey, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		agg, err := r.aggregate()
		if err != nil {
			return nil, err
		}
		k := waitingKey{since: agg.StateSince, id: r.ID}
		if rt, ok := routes[r.ID]; ok {
			k.priority = rt.priority(r)
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, pickOrder)
	ids := make([]int64, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	return ids, nil
}
