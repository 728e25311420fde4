package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
)

// Administrators act on the sessions of the units in their scope (SESS-9):
// the sessions view and its start, transfer, hold and close actions.

// inScope reports whether an administrator's scope covers a session: its
// channel, its technician group, its technician or the queue it waits in.
func inScope(sc *org.Scope, r *row) bool {
	if sc.IsMaster() {
		return true
	}
	for _, id := range []*int64{r.ChannelID, r.TechGroupID, r.TechnicianID, r.CreatorID} {
		if id != nil && sc.Manages(*id) {
			return true
		}
	}
	return r.QueueID != 0 && sc.Manages(r.QueueID)
}

func requireAdmin(sc *org.Scope) error {
	if sc.Actor.Role != org.KindMaster && sc.Actor.Role != org.KindAdmin {
		return fault.Forbiddenf("admin_only", "Only administrators act on other technicians' sessions.")
	}
	return nil
}

// UnitSessions lists the live sessions of a group, channel or technician in
// the administrator's scope, with what the sessions view shows (SESS-9).
func (s *Service) UnitSessions(ctx context.Context, sc *org.Scope, unitID int64) ([]Session, error) {
	if err := requireAdmin(sc); err != nil {
		return nil, err
	}
	if !sc.Manages(unitID) {
		return nil, fault.OutOfScope("Unit %d is outside your scope.", unitID)
	}
	var rows []row
	err := s.DB.NewSelect().Model(&rows).Where("state IN (?)", bun.In(liveStates)).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("channel_id = ?", unitID).WhereOr("tech_group_id = ?", unitID).
				WhereOr("technician_id = ?", unitID).WhereOr("creator_id = ?", unitID).WhereOr("queue_id = ?", unitID)
		}).OrderExpr("id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load sessions of unit %d: %w", unitID, err)
	}
	now := s.now()
	out := make([]Session, 0, len(rows))
	for i := range rows {
		v, err := rows[i].view(now)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// administered runs fn on a session in the administrator's scope.
func (s *Service) administered(ctx context.Context, sc *org.Scope, id int64, fn func(ctx context.Context, r *row, agg *session.Session, now time.Time) (change, error)) (Session, error) {
	if err := requireAdmin(sc); err != nil {
		return Session{}, err
	}
	return s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if !inScope(sc, r) {
			return change{}, fault.OutOfScope("Session %d is outside your scope.", id)
		}
		ch, err := fn(ctx, r, agg, now)
		if err != nil {
			return change{}, transitionFault(err)
		}
		ch.actorID = sc.Actor.ID
		return ch, nil
	})
}

// AdminStart has a technician pick up a waiting session (SESS-9 "start").
func (s *Service) AdminStart(ctx context.Context, sc *org.Scope, id, technicianID int64) (Session, error) {
	if err := requireAdmin(sc); err != nil {
		return Session{}, err
	}
	if !sc.Manages(technicianID) {
		return Session{}, fault.OutOfScope("Technician %d is outside your scope.", technicianID)
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		return Session{}, err
	}
	r := row{ChannelID: cur.ChannelID, TechGroupID: cur.TechGroupID, TechnicianID: cur.TechnicianID, CreatorID: cur.CreatorID, QueueID: cur.QueueID}
	if !inScope(sc, &r) {
		return Session{}, fault.OutOfScope("Session %d is outside your scope.", id)
	}
	t, err := s.technician(ctx, org.Actor{ID: technicianID, Role: org.KindTechnician})
	if err != nil {
		return Session{}, fault.Field("technician_id", "is not an enabled technician")
	}
	return s.pickUp(ctx, t, id, "session.picked_up", "admin")
}

// AdminHold puts a session on hold for its technician.
func (s *Service) AdminHold(ctx context.Context, sc *org.Scope, id int64) (Session, error) {
	return s.administered(ctx, sc, id, func(_ context.Context, _ *row, agg *session.Session, now time.Time) (change, error) {
		return change{event: "session.on_hold", system: "Session put on hold by an administrator."}, agg.Hold(now)
	})
}

// AdminClose ends a session.
func (s *Service) AdminClose(ctx context.Context, sc *org.Scope, id int64) (Session, error) {
	return s.administered(ctx, sc, id, func(_ context.Context, _ *row, agg *session.Session, now time.Time) (change, error) {
		return change{event: "session.closed", payload: map[string]any{"reason": session.ClosedByAdmin},
			system: "Session ended by an administrator."}, agg.Close(now, session.ClosedByAdmin)
	})
}

// AdminTransfer moves a session to a technician, group or channel with a comment.
func (s *Service) AdminTransfer(ctx context.Context, sc *org.Scope, id int64, req TransferRequest) (Session, error) {
	if err := fault.Validate(req); err != nil {
		return Session{}, err
	}
	if err := s.checkTarget(ctx, req); err != nil {
		return Session{}, err
	}
	return s.administered(ctx, sc, id, func(ctx context.Context, r *row, agg *session.Session, now time.Time) (change, error) {
		from := agg.TechnicianID
		if err := agg.Transfer(now, session.TransferInfo{From: from, To: session.Target{Kind: req.Kind, ID: req.ID}, Comment: req.Comment, At: now}); err != nil {
			return change{}, err
		}
		r.requeue(queueOf(req.Kind), req.ID, from)
		return change{event: "session.transferred",
			payload: map[string]any{"from": from, "by_admin": sc.Actor.ID, "to_kind": req.Kind, "to_id": req.ID, "comment": req.Comment, "auto": false},
			system:  "Transferred by an administrator."}, nil
	})
}
