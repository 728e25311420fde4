package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/session"
)

// Routing rules (issue 5) narrow who is offered a waiting channel session:
// when it starts waiting in a channel (also after a transfer), the first
// matching rule of the channel decides, and each escalation step offers it
// to the step's eligible technicians only, until the step's wait is over
// (a durable TimerRouting timer). After the last step, or with no matching
// rule, the channel's plain assignment (CH-2) applies as without rules.

// TimerRouting moves a routed session to its rule's next escalation step.
const TimerRouting = "routing_step"

// Routing gives dispatching the routing rules and their environment
// (core/hub adapts core/rules, settings, the organisation and presence).
type Routing interface {
	// Rules returns a channel's compiled rules in evaluation order.
	Rules(ctx context.Context, channelID int64) ([]routing.CompiledRule, error)
	// Env describes the waiting session, the clock in its channel's time
	// zone and the queue; technicians are the candidates (for queue facts).
	Env(ctx context.Context, v Session, technicians []routing.TechnicianEnv) (routing.Env, error)
	// Technicians are the technicians who are signed in (not offline),
	// with their routing attributes.
	Technicians(ctx context.Context) ([]routing.TechnicianEnv, error)
	// Router evaluates rules and reports run-time failures.
	Router() *routing.Router
}

type routeRow struct {
	bun.BaseModel `bun:"table:session_routing"`

	SessionID int64     `bun:"session_id,pk"`
	QueueKind string    `bun:"queue_kind,notnull"`
	QueueID   int64     `bun:"queue_id,notnull"`
	RuleID    int64     `bun:"rule_id,notnull"`
	RuleName  string    `bun:"rule_name,notnull"`
	Step      int       `bun:"step,notnull"`
	StepSince time.Time `bun:"step_since,notnull"`
	Eligible  []int64   `bun:"eligible,notnull"`
	Priority  int       `bun:"priority,notnull"`
}

// Route is where routing rules put a waiting session.
type Route struct {
	RuleID   int64   `json:"rule_id"`
	RuleName string  `json:"rule_name"`
	Step     int     `json:"step"`
	Eligible []int64 `json:"eligible"`
	Priority int     `json:"priority"`
}

// holds says the route decides who sees the session in queue q.
func (r *routeRow) holds(kind string, id int64) bool {
	return r != nil && r.Step >= 0 && r.QueueKind == kind && r.QueueID == id
}

func (s *Service) routeOf(ctx context.Context, db bun.IDB, id int64) (*routeRow, error) {
	var r routeRow
	err := db.NewSelect().Model(&r).Where("session_id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load route of session %d: %w", id, err)
	}
	return &r, nil
}

// RouteOf returns where rules put a waiting session; ok is false when no
// rule holds it (none matched, or its chain is over).
func (s *Service) RouteOf(ctx context.Context, id int64) (Route, bool, error) {
	r, err := s.routeOf(ctx, s.DB, id)
	if err != nil || r == nil || r.Step < 0 {
		return Route{}, false, err
	}
	return Route{RuleID: r.RuleID, RuleName: r.RuleName, Step: r.Step, Eligible: r.Eligible, Priority: r.Priority}, true, nil
}

// routedEligible decides whether technician t sees a session waiting in a
// channel when rules hold it: only the current step's eligible technicians
// do, and nobody does while a channel with rules has not routed it yet
// (dispatching routes it right after it starts waiting). decided is false
// when the channel's plain assignment applies.
func (s *Service) routedEligible(ctx context.Context, chans *channels, t technician, r *row) (ok, decided bool, err error) {
	rt, err := s.routeFor(ctx, chans, r.ID)
	if err != nil {
		return false, true, err
	}
	if rt != nil && rt.QueueKind == r.QueueKind && rt.QueueID == r.QueueID {
		if rt.Step < 0 {
			return false, false, nil
		}
		return slices.Contains(rt.Eligible, t.ID), true, nil
	}
	if r.State != string(session.Waiting) {
		return false, false, nil
	}
	rules, err := s.Routing.Rules(ctx, r.QueueID)
	if err != nil || len(rules) == 0 {
		return false, err != nil, err
	}
	return false, true, nil
}

// route evaluates the channel's rules for a waiting channel session and
// returns the technicians to offer it to (techs when no rule holds it).
// A failure of the rules never loses the session: it is logged and the
// channel's plain assignment applies.
func (s *Service) route(ctx context.Context, v Session, techs []int64) []int64 {
	ids, err := s.routeStep(ctx, v, techs)
	if err != nil {
		s.logger().Warn("routing rules", "session", v.ID, "error", err)
		// The channel's plain assignment applies; record it so that the
		// queue does not wait for a route that is not coming.
		plain := routeRow{SessionID: v.ID, QueueKind: v.QueueKind, QueueID: v.QueueID, Step: -1, StepSince: s.now(), Eligible: []int64{}}
		if err := s.saveRoute(ctx, nil, plain); err != nil {
			s.logger().Error("routing rules: record the plain assignment", "session", v.ID, "error", err)
		}
		return techs
	}
	return ids
}

func (s *Service) routeStep(ctx context.Context, v Session, techs []int64) ([]int64, error) {
	if s.Routing == nil || v.QueueKind != QueueChannel || v.State != session.Waiting {
		return techs, nil
	}
	rules, err := s.Routing.Rules(ctx, v.QueueID)
	if err != nil {
		return nil, err
	}
	prev, err := s.routeOf(ctx, s.DB, v.ID)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 && prev == nil {
		return techs, nil // no rules: today's behaviour exactly
	}
	cands, err := s.Routing.Technicians(ctx)
	if err != nil {
		return nil, err
	}
	env, err := s.Routing.Env(ctx, v, cands)
	if err != nil {
		return nil, err
	}
	now := s.now()
	router := s.Routing.Router()
	next := routeRow{SessionID: v.ID, QueueKind: v.QueueKind, QueueID: v.QueueID, Step: -1, StepSince: now, Eligible: []int64{}}
	var rule *routing.CompiledRule
	if prev != nil && prev.QueueKind == v.QueueKind && prev.QueueID == v.QueueID {
		// Routed in this queue already: keep the rule and move along its chain.
		next = *prev
		if prev.Step >= 0 {
			rule = findRule(rules, prev.RuleID)
		}
		if rule != nil {
			d := routing.Decision{Matched: true}
			for _, st := range rule.Steps() {
				d.Steps = append(d.Steps, routing.StepDecision{Target: st.Target, Wait: st.Wait})
			}
			e := d.Escalate(prev.Step, now.Sub(prev.StepSince))
			if e.Step != prev.Step {
				next.StepSince = stepStart(prev, d, e.Step, now)
			}
			next.Step = e.Step
		} else {
			next.Step = -1
		}
	} else {
		d := router.Route(rules, env, cands)
		if d.Matched {
			rule = findRule(rules, d.RuleID)
			next.RuleID, next.RuleName, next.Priority, next.Step = d.RuleID, d.RuleName, d.SessionPriority, 0
		}
	}
	if rule != nil && next.Step >= 0 {
		ids, err := router.Eligible(rule, next.Step, env, cands)
		if err != nil {
			next.Step = -1 // a later step's filter failed: the channel's settings apply
		} else {
			next.Eligible = ids
		}
	}
	if next.Step < 0 {
		next.Eligible = []int64{}
	}
	if err := s.saveRoute(ctx, prev, next); err != nil {
		return nil, err
	}
	if err := s.armRouting(ctx, v, rule, next, now); err != nil {
		return nil, err
	}
	if next.Step < 0 {
		return techs, nil
	}
	return next.Eligible, nil
}

func findRule(rules []routing.CompiledRule, id int64) *routing.CompiledRule {
	for i := range rules {
		if rules[i].Rule.ID == id {
			return &rules[i]
		}
	}
	return nil
}

// stepStart is when step began, counted from the start of prev's step.
func stepStart(prev *routeRow, d routing.Decision, step int, now time.Time) time.Time {
	if step < 0 {
		return now
	}
	at := prev.StepSince
	for i := prev.Step; i < step && i < len(d.Steps); i++ {
		at = at.Add(d.Steps[i].Wait)
	}
	return at
}

// saveRoute stores the route and tells the queue feed when who sees the
// session has changed.
func (s *Service) saveRoute(ctx context.Context, prev *routeRow, next routeRow) error {
	if prev != nil && prev.QueueKind == next.QueueKind && prev.QueueID == next.QueueID && prev.RuleID == next.RuleID &&
		prev.Step == next.Step && slices.Equal(prev.Eligible, next.Eligible) {
		return nil
	}
	if _, err := s.DB.NewInsert().Model(&next).On("CONFLICT (session_id) DO UPDATE").
		Set("queue_kind = EXCLUDED.queue_kind, queue_id = EXCLUDED.queue_id, rule_id = EXCLUDED.rule_id, rule_name = EXCLUDED.rule_name").
		Set("step = EXCLUDED.step, step_since = EXCLUDED.step_since, eligible = EXCLUDED.eligible, priority = EXCLUDED.priority").
		Exec(ctx); err != nil {
		return fmt.Errorf("save route of session %d: %w", next.SessionID, err)
	}
	if s.RouteChanged != nil {
		s.RouteChanged(next.SessionID)
	}
	return nil
}

// armRouting schedules the next escalation step, or, when the rule's chain
// is over, the channel's auto-transfer it held back.
func (s *Service) armRouting(ctx context.Context, v Session, rule *routing.CompiledRule, r routeRow, now time.Time) error {
	if s.Timers == nil {
		return nil
	}
	if rule == nil || r.Step < 0 {
		if err := s.Timers.Cancel(ctx, s.DB, v.ID, TimerRouting); err != nil {
			return err
		}
		if r.RuleID == 0 {
			return nil
		}
		// The rule held the channel's auto-transfer back; it may act now.
		after, _, ok, err := s.Policy.AutoTransfer(ctx, v.QueueID)
		if err != nil || !ok {
			return err
		}
		return s.Timers.Schedule(ctx, s.DB, v.ID, TimerAutoTransfer, later(v.Aggregate.StateSince.Add(after), now))
	}
	steps := rule.Steps()
	wait := steps[r.Step].Wait
	if wait == 0 {
		return s.Timers.Cancel(ctx, s.DB, v.ID, TimerRouting)
	}
	return s.Timers.Schedule(ctx, s.DB, v.ID, TimerRouting, r.StepSince.Add(wait))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// routingHolds says a rule's escalation step with a wait holds the session,
// so the channel's auto-transfer waits until the chain is over.
func (s *Service) routingHolds(ctx context.Context, db bun.IDB, r *row) (bool, error) {
	rt, err := s.routeOf(ctx, db, r.ID)
	if err != nil || !rt.holds(r.QueueKind, r.QueueID) || s.Routing == nil {
		return false, err
	}
	rules, err := s.Routing.Rules(ctx, r.QueueID)
	if err != nil {
		return false, err
	}
	rule := findRule(rules, rt.RuleID)
	if rule == nil {
		return false, nil
	}
	steps := rule.Steps()
	return rt.Step < len(steps) && (rt.Step < len(steps)-1 || steps[rt.Step].Wait > 0), nil
}

// routeFor is the route of a session, from routes loaded once per request.
func (s *Service) routeFor(ctx context.Context, chans *channels, id int64) (*routeRow, error) {
	if chans.routes == nil {
		var rows []routeRow
		if err := s.DB.NewSelect().Model(&rows).Scan(ctx); err != nil {
			return nil, fmt.Errorf("load routes: %w", err)
		}
		chans.routes = make(map[int64]routeRow, len(rows))
		for _, r := range rows {
			chans.routes[r.SessionID] = r
		}
	}
	if r, ok := chans.routes[id]; ok {
		return &r, nil
	}
	return nil, nil
}

// WaitingIn counts the sessions waiting in a queue (routing's queue.waiting).
func (s *Service) WaitingIn(ctx context.Context, kind string, id int64) (int, error) {
	n, err := s.DB.NewSelect().Model((*row)(nil)).
		Where("queue_kind = ? AND queue_id = ? AND state = ?", kind, id, session.Waiting).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count waiting sessions: %w", err)
	}
	return int(n), nil
}

// RerouteWaiting re-evaluates the rules of every waiting channel session,
// e.g. when a technician's status changes: who passes a step's filter may
// have changed. Unlike DispatchWaiting it neither auto-starts nor applies
// working hours, so without rules it changes nothing.
func (s *Service) RerouteWaiting(ctx context.Context) error {
	if s.Routing == nil {
		return nil
	}
	var ids []int64
	if err := s.DB.NewSelect().Model((*row)(nil)).Column("id").
		Where("state = ? AND queue_kind = ?", session.Waiting, QueueChannel).OrderExpr("id").Scan(ctx, &ids); err != nil {
		return fmt.Errorf("list waiting sessions: %w", err)
	}
	for _, id := range ids {
		v, err := s.Get(ctx, id)
		if err != nil {
			continue // gone meanwhile
		}
		s.route(ctx, v, nil)
	}
	return nil
}
