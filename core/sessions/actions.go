package sessions

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/session"
)

// Presence is what the queue knows of technicians (core/queue implements it).
type Presence interface {
	// Status is the effective status: online, busy, away or offline (SESS-16).
	Status(ctx context.Context, technicianID int64) (string, error)
	// MaxActive is the most sessions a technician of the group may have
	// active at once.
	MaxActive(ctx context.Context, groupID int64) (int, error)
}

// activeStates hold a technician's attention: they count against the
// maximum of SESS-16. On PostgreSQL, tether_active_sessions (migration 15)
// names them too (TestActiveStatesCounted).
var activeStates = []session.State{session.Active, session.OnHold, session.Rebooting, session.Reconnecting}

// ActiveCount counts the sessions a technician works on now.
func (s *Service) ActiveCount(ctx context.Context, technicianID int64) (int, error) {
	var n int
	if err := countActive.Scan(ctx, s.DB, &n, technicianID); err != nil {
		return 0, fmt.Errorf("count active sessions of %d: %w", technicianID, err)
	}
	return n, nil
}

// technician is a member acting on sessions, with their group.
type technician struct {
	ID    int64
	Group int64
	Name  string // as customers see it
	Perms *org.Permissions
}

func (s *Service) technician(ctx context.Context, actor org.Actor) (technician, error) {
	creds, err := s.credentials(ctx, actor.ID)
	if err != nil {
		return technician{}, err
	}
	if creds.TechGroupID == 0 || !creds.Enabled {
		return technician{}, fault.Forbiddenf("technicians_only", "Only technicians work on sessions.")
	}
	perms, err := s.Policy.Permissions(ctx, creds.TechGroupID)
	if err != nil {
		return technician{}, err
	}
	return technician{ID: actor.ID, Group: creds.TechGroupID, Name: creds.DisplayName, Perms: perms}, nil
}

// channels loads the channel assignments once for a whole queue listing
// instead of once per queued session.
type channels struct {
	org  *org.Service
	byID map[int64]org.Channel
	// routes are the sessions routing rules hold, loaded on first use when
	// rules are on (routing.go).
	routes map[int64]routeRow
}

func (c *channels) get(ctx context.Context, id int64) (org.Channel, error) {
	if c.byID == nil {
		all, err := c.org.Channels(ctx, org.MasterScope(0))
		if err != nil {
			return org.Channel{}, err
		}
		c.byID = make(map[int64]org.Channel, len(all))
		for _, ch := range all {
			c.byID[ch.ID] = ch
		}
	}
	ch, ok := c.byID[id]
	if !ok {
		return org.Channel{}, fault.NotFoundf("channel", "No channel with id %d.", id)
	}
	return ch, nil
}

// eligible reports whether a queued session is in the technician's queue:
// their private queue, their group's queue, or a channel assigned to their
// group that does not exclude them (CH-2, CH-3).
func (s *Service) eligible(ctx context.Context, chans *channels, t technician, r *row) (bool, error) {
	switch r.QueueKind {
	case QueueTechnician:
		return s.technicianQueueEligible(ctx, chans, t, r)
	case QueueGroup:
		return r.QueueID == t.Group, nil
	case QueueChannel:
		if s.Routing != nil {
			if ok, decided, err := s.routedEligible(ctx, chans, t, r); err != nil || decided {
				return ok, err
			}
		}
		ch, err := chans.get(ctx, r.QueueID)
		if err != nil {
			return false, err
		}
		return slices.Contains(ch.Groups, t.Group) && !slices.Contains(ch.Excluded, t.ID), nil
	}
	return false, nil
}

// PickUp starts a waiting session with the technician (SESS-16: busy and
// away technicians may pick up; the group's maximum of active sessions holds).
func (s *Service) PickUp(ctx context.Context, actor org.Actor, id int64) (Session, error) {
	t, err := s.technician(ctx, actor)
	if err != nil {
		return Session{}, err
	}
	v, err := s.pickUp(ctx, t, id, "session.picked_up", "")
	if err == nil {
		s.acted(ctx, t.ID)
	}
	return v, err
}

func (s *Service) acted(ctx context.Context, technicianID int64) {
	if s.TechnicianActed != nil {
		s.TechnicianActed(ctx, technicianID)
	}
}

func (s *Service) pickUp(ctx context.Context, t technician, id int64, event, how string) (Session, error) {
	name := t.Name
	return s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if agg.State != session.Waiting && agg.State != session.Transferring {
			if agg.ReachedActive && agg.State.Live() {
				return change{}, fault.New(fault.Conflict, "already_picked_up", "Session %d has already been picked up.", id)
			}
			return change{}, transitionFault(agg.PickUp(now, t.ID))
		}
		ok, err := s.eligible(ctx, &channels{org: s.Org}, t, r)
		if err != nil {
			return change{}, err
		}
		if !ok {
			return change{}, fault.Forbiddenf("not_in_your_queue", "Session %d is not in your queue.", id)
		}
		claim, err := s.claimOf(ctx, t)
		if err != nil {
			return change{}, err
		}
		if err := agg.PickUp(now, t.ID); err != nil {
			return change{}, transitionFault(err)
		}
		r.QueueKind, r.QueueID, r.PrevQueueKind, r.PrevQueueID = "", 0, "", 0
		return change{event: event, actorID: t.ID, payload: map[string]any{"technician_id": t.ID, "how": how},
			system: "Connected to " + name + ".", claim: claim}, nil
	})
}

// claim is a change's claim on one of a technician's places (SESS-16): it
// is saved only while the technician has fewer than max sessions active.
// The count and the save are atomic: on SQLite the write transaction is
// serial; on PostgreSQL the count (tether_active_sessions, migrations 14 and
// 15) first takes a lock on the technician held until the change commits.
type claim struct {
	technician int64
	max        int
}

// claimOf is the claim a pick-up by t makes; nil when nothing limits it.
func (s *Service) claimOf(ctx context.Context, t technician) (*claim, error) {
	if s.Presence == nil {
		return nil, nil
	}
	max, err := s.Presence.MaxActive(ctx, t.Group)
	if err != nil {
		return nil, err
	}
	return &claim{technician: t.ID, max: max}, nil
}

// check refuses c in transaction tx when the technician's places are
// taken; on PostgreSQL tx then holds the technician's lock.
func (c *claim) check(ctx context.Context, tx bun.Tx) error {
	if c == nil {
		return nil
	}
	var n int
	if err := lockActive.Scan(ctx, tx, &n, c.technician); err != nil {
		return fmt.Errorf("count active sessions: %w", err)
	}
	if n >= c.max {
		return fault.New(fault.Conflict, "too_many_active_sessions",
			"You already have %d active sessions, the most your group allows.", n)
	}
	return nil
}

// owned runs fn on a session the technician owns.
func (s *Service) owned(ctx context.Context, actor org.Actor, id int64, fn func(t technician, r *row, agg *session.Session, now time.Time) (change, error)) (Session, error) {
	t, err := s.technician(ctx, actor)
	if err != nil {
		return Session{}, err
	}
	defer s.acted(ctx, t.ID)
	return s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if agg.TechnicianID != t.ID && !(agg.State == session.Pending && r.CreatorID != nil && *r.CreatorID == t.ID) {
			return change{}, fault.Forbiddenf("not_your_session", "Session %d is not yours.", id)
		}
		ch, err := fn(t, r, agg, now)
		if err != nil {
			return change{}, transitionFault(err)
		}
		ch.actorID = t.ID
		return ch, nil
	})
}

// Hold puts an active session on hold.
func (s *Service) Hold(ctx context.Context, actor org.Actor, id int64) (Session, error) {
	return s.owned(ctx, actor, id, func(_ technician, _ *row, agg *session.Session, now time.Time) (change, error) {
		return change{event: "session.on_hold", system: "Session put on hold."}, agg.Hold(now)
	})
}

// Resume takes a session off hold.
func (s *Service) Resume(ctx context.Context, actor org.Actor, id int64) (Session, error) {
	return s.owned(ctx, actor, id, func(_ technician, _ *row, agg *session.Session, now time.Time) (change, error) {
		return change{event: "session.resumed", system: "Session resumed."}, agg.Resume(now)
	})
}

// Close ends a session the technician owns (or cancels their pending code).
func (s *Service) Close(ctx context.Context, actor org.Actor, id int64) (Session, error) {
	return s.owned(ctx, actor, id, func(_ technician, _ *row, agg *session.Session, now time.Time) (change, error) {
		return change{event: "session.closed", payload: map[string]any{"reason": session.ClosedByTechnician},
			system: "Session ended by the technician."}, agg.Close(now, session.ClosedByTechnician)
	})
}

// TransferRequest names where a session goes and why (SESS-10).
type TransferRequest struct {
	Kind    session.TargetKind `json:"target_kind" validate:"required,oneof=technician group channel"`
	ID      int64              `json:"target_id" validate:"required,gt=0"`
	Comment string             `json:"comment" validate:"max=1024"`
}

// Transfer moves a session to a technician, a group or a channel. Nothing
// goes to a Busy or Away technician (SESS-10).
func (s *Service) Transfer(ctx context.Context, actor org.Actor, id int64, req TransferRequest) (Session, error) {
	req.Comment = strings.TrimSpace(req.Comment)
	if err := fault.Validate(req); err != nil {
		return Session{}, err
	}
	if err := s.checkTarget(ctx, req); err != nil {
		return Session{}, err
	}
	return s.owned(ctx, actor, id, func(t technician, r *row, agg *session.Session, now time.Time) (change, error) {
		name := t.Name
		if !t.Perms.Transfer {
			return change{}, fault.Forbiddenf("permission_denied", "Your group may not transfer sessions (permission transfer).")
		}
		if err := agg.Transfer(now, session.TransferInfo{From: t.ID, To: session.Target{Kind: req.Kind, ID: req.ID}, Comment: req.Comment, At: now}); err != nil {
			return change{}, err
		}
		r.requeue(queueOf(req.Kind), req.ID, t.ID)
		return change{event: "session.transferred",
			payload: map[string]any{"from": t.ID, "to_kind": req.Kind, "to_id": req.ID, "comment": req.Comment, "auto": false},
			system:  "Transferred by " + name + "."}, nil
	})
}

func queueOf(k session.TargetKind) string {
	switch k {
	case session.ToTechnician:
		return QueueTechnician
	case session.ToGroup:
		return QueueGroup
	default:
		return QueueChannel
	}
}

func (s *Service) checkTarget(ctx context.Context, req TransferRequest) error {
	want := map[session.TargetKind]org.Kind{session.ToTechnician: org.KindTechnician, session.ToGroup: org.KindTechGroup, session.ToChannel: org.KindChannel}[req.Kind]
	u, err := s.Org.UnitByID(ctx, req.ID)
	if err != nil || u.Kind != want {
		return fault.Field("target_id", fmt.Sprintf("no %s with id %d", req.Kind, req.ID))
	}
	if req.Kind == session.ToTechnician && s.Presence != nil {
		st, err := s.Presence.Status(ctx, req.ID)
		if err != nil {
			return err
		}
		if st == "busy" || st == "away" || st == "offline" {
			return &fault.Error{Kind: fault.Conflict, Code: "technician_unavailable",
				Message: fmt.Sprintf("%s is %s; sessions cannot be transferred to a Busy, Away or offline technician.", u.Name, st),
				Fields:  map[string]string{"target_id": "technician is " + st}}
		}
	}
	return nil
}

// CustomerClose ends the session from the customer's side.
func (s *Service) CustomerClose(ctx context.Context, secret string) (Session, error) {
	cur, err := s.ByCustomerSecret(ctx, secret)
	if err != nil {
		return Session{}, err
	}
	return s.mutate(ctx, cur.ID, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if err := agg.Close(now, session.ClosedByCustomer); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: "session.closed", payload: map[string]any{"reason": session.ClosedByCustomer}, system: "Session ended by the customer."}, nil
	})
}

// CustomerConnected and CustomerDisconnected follow the customer's link
// (Active <-> Reconnecting, SESS-4).
func (s *Service) CustomerConnected(ctx context.Context, id int64) error {
	_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if agg.State != session.Reconnecting && agg.State != session.Rebooting {
			return change{}, nil
		}
		if err := agg.Reconnect(now); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: "session.reconnected", system: "The customer is connected again."}, nil
	})
	return err
}

// CustomerDisconnected: an active session waits for the customer to come back.
func (s *Service) CustomerDisconnected(ctx context.Context, id int64) error {
	_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		if agg.State != session.Active && agg.State != session.OnHold {
			return change{}, nil
		}
		if err := agg.Disconnect(now); err != nil {
			return change{}, transitionFault(err)
		}
		return change{event: "session.reconnecting", system: "The customer's connection dropped; reconnecting."}, nil
	})
	return err
}

// Activity records an action by either side (SESS-8 idle timeout).
func (s *Service) Activity(ctx context.Context, id int64) error {
	_, err := s.mutate(ctx, id, func(ctx context.Context, db bun.IDB, r *row, agg *session.Session, now time.Time) (change, error) {
		agg.Touch(now)
		return change{}, nil
	})
	return err
}

// Reboot records that the technician reboots the customer's computer
// (ORG-7 reboot): the session is Rebooting until the customer's side
// connects again.
func (s *Service) Reboot(ctx context.Context, actor org.Actor, id int64) (Session, error) {
	return s.owned(ctx, actor, id, func(t technician, _ *row, agg *session.Session, now time.Time) (change, error) {
		if !t.Perms.Reboot {
			return change{}, fault.Forbiddenf("permission_denied", "Your group may not reboot customers' computers (permission reboot).")
		}
		return change{event: "session.rebooting", system: "Rebooting the customer's computer."}, agg.Reboot(now)
	})
}
