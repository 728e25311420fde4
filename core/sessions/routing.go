package sessions

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/session"
)

// Routing rules (issue 5) narrow who is offered a waiting session: when a
// channel session starts waiting in a channel (also after a transfer), the
// first matching rule of the channel decides; when a private session starts
// waiting for its creator, the first matching rule of its technician group
// does. Each escalation step offers it to the step's eligible technicians
// only, until the step's wait is over (a durable TimerRouting timer). After
// the last step, or with no matching rule, the plain assignment applies as
// without rules: the channel's (CH-2), or the creator's private queue. The
// matched rule's session priority orders the session in the queues it
// waits in (queueview.go's pickOrder) for as long as it waits there.

// TimerRouting moves a routed session to its rule's next escalation step.
const TimerRouting = "routing_step"

// RuleList names the rule list that routes a waiting session: a channel's
// (sessions waiting in the channel) or a technician group's (private
// sessions of the group waiting for their creator). Exactly one is set.
type RuleList struct {
	ChannelID int64
	GroupID   int64
}

// ruleList is the list that routes a session waiting in queue (queueKind,
// queueID); ok is false for the queues rules never route (a group, or a
// technician a session was transferred to).
func ruleList(kind session.Kind, queueKind string, queueID int64, group, creator *int64) (l RuleList, ok bool) {
	switch {
	case queueKind == QueueChannel:
		return RuleList{ChannelID: queueID}, true
	case kind == session.Private && queueKind == QueueTechnician && group != nil && creator != nil && *creator == queueID:
		return RuleList{GroupID: *group}, true
	}
	return RuleList{}, false
}

func (r *row) ruleList() (RuleList, bool) {
	return ruleList(session.Kind(r.Kind), r.QueueKind, r.QueueID, r.TechGroupID, r.CreatorID)
}

func (v Session) ruleList() (RuleList, bool) {
	return ruleList(v.Kind, v.QueueKind, v.QueueID, v.TechGroupID, v.CreatorID)
}

// Routing gives dispatching the routing rules and their environment
// (core/hub adapts core/rules, settings, the organisation and presence).
type Routing interface {
	// Rules returns a list's compiled rules in evaluation order.
	Rules(ctx context.Context, l RuleList) ([]routing.CompiledRule, error)
	// Env describes the waiting session, the clock in its channel's (or, for
	// a private session, its group's) time zone and the queue; technicians
	// are the candidates (for queue facts).
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

// appliesTo says the route was made for session q as it waits now. Rules
// route waiting sessions only, so a route never applies to a session that
// is being transferred, even back into the queue it was routed in.
func (r *routeRow) appliesTo(q *row) bool {
	return r != nil && q.State == string(session.Waiting) && r.QueueKind == q.QueueKind && r.QueueID == q.QueueID
}

// priority is the session priority the route gives q: its rule's while q
// waits in the queue it was routed in (also once the rule's chain is over),
// 0 otherwise.
func (r *routeRow) priority(q *row) int {
	if !r.appliesTo(q) {
		return 0
	}
	return r.Priority
}

// routedRow is a session and the route rules gave it (SessionID 0: none).
type routedRow struct {
	row
	Route routeRow `bun:"embed:route_"`
}

// getRouted reads a waiting session to dispatch, with its route (nil:
// none), in one statement.
func (s *Service) getRouted(ctx context.Context, id int64) (Session, *routeRow, error) {
	var r routedRow
	err := sessionWithRoute.Scan(ctx, s.DB, &r, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, nil, fault.NotFoundf("session", "No session with id %d.", id)
	}
	if err != nil {
		return Session{}, nil, fmt.Errorf("load session %d: %w", id, err)
	}
	v, err := r.row.view(s.now())
	if err != nil || r.Route.SessionID == 0 {
		return v, nil, err
	}
	return v, &r.Route, nil
}

func (s *Service) routeOf(ctx context.Context, db bun.IDB, id int64) (*routeRow, error) {
	var r routeRow
	err := routeOfSession.Scan(ctx, db, &r, id)
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

// routedEligible decides whether technician t sees a waiting session when
// rules hold it: only the current step's eligible technicians do, and
// nobody does while a list with rules has not routed it yet (dispatching
// routes it right after it starts waiting). decided is false when the plain
// assignment applies (the channel's, or the creator's private queue).
func (s *Service) routedEligible(ctx context.Context, chans *channels, t technician, r *row) (ok, decided bool, err error) {
	rt, hasRules, err := s.currentRoute(ctx, chans, r)
	switch {
	case err != nil:
		return false, true, err
	case !hasRules:
		return false, false, nil
	case rt == nil:
		return false, true, nil // not routed yet
	case rt.Step < 0:
		return false, false, nil // the rule's chain is over
	}
	return slices.Contains(rt.Eligible, t.ID), true, nil
}

// currentRoute is the route that applies to a waiting session r, nil when
// it has none (yet). hasRules is false when r's list has no rules (any
// more): then no route applies and nothing is read from the database, so a
// site without rules pays nothing for them.
func (s *Service) currentRoute(ctx context.Context, chans *channels, r *row) (rt *routeRow, hasRules bool, err error) {
	l, ok := r.ruleList()
	if !ok || r.State != string(session.Waiting) || s.Routing == nil {
		return nil, false, nil
	}
	rules, err := s.Routing.Rules(ctx, l)
	if err != nil || len(rules) == 0 {
		return nil, false, err
	}
	if rt, err = s.routeFor(ctx, chans, r.ID); err != nil {
		return nil, true, err
	}
	if !rt.appliesTo(r) {
		rt = nil
	}
	return rt, true, nil
}

// technicianQueueEligible decides whether technician t sees a session
// waiting in a technician's queue: that technician does, unless the rules
// of a private session's group hold it.
func (s *Service) technicianQueueEligible(ctx context.Context, chans *channels, t technician, r *row) (bool, error) {
	if s.Routing != nil {
		if ok, decided, err := s.routedEligible(ctx, chans, t, r); err != nil || decided {
			return ok, err
		}
	}
	return r.QueueID == t.ID, nil
}

// route evaluates the rules of a waiting session's list and returns the
// technicians to offer it to (techs when no rule holds it). A failure of
// the rules never loses the session: it is logged and the plain assignment
// applies.
func (s *Service) route(ctx context.Context, v Session, prev *routeRow, techs []int64) []int64 {
	ids, err := s.routeStep(ctx, v, prev, techs)
	if err != nil {
		s.logger().Warn("routing rules", "session", v.ID, "error", err)
		// The plain assignment applies; record it so that the queue does
		// not wait for a route that is not coming.
		plain := routeRow{SessionID: v.ID, QueueKind: v.QueueKind, QueueID: v.QueueID, Step: -1, StepSince: s.now(), Eligible: []int64{}}
		if err := s.saveRoute(ctx, nil, plain); err != nil {
			s.logger().Error("routing rules: record the plain assignment", "session", v.ID, "error", err)
		}
		return techs
	}
	return ids
}

// routeStep moves the session v along its route prev (nil: none, read
// with v by getRouted).
func (s *Service) routeStep(ctx context.Context, v Session, prev *routeRow, techs []int64) ([]int64, error) {
	if s.Routing == nil || v.State != session.Waiting {
		return techs, nil
	}
	l, ok := v.ruleList()
	if !ok {
		return techs, nil
	}
	rules, err := s.Routing.Rules(ctx, l)
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
	}
	evaluated := false
	if prev == nil || prev.QueueKind != v.QueueKind || prev.QueueID != v.QueueID {
		d := router.Route(rules, env, cands)
		if d.Matched {
			rule = findRule(rules, d.RuleID)
			next.RuleID, next.RuleName, next.Priority, next.Step = d.RuleID, d.RuleName, d.SessionPriority, 0
			if len(d.Steps) > 0 {
				// Route evaluated the first step already.
				next.Eligible, evaluated = d.Steps[0].Eligible, true
				if next.Eligible == nil {
					next.Eligible = []int64{}
				}
			}
		}
	}
	if rule != nil && next.Step >= 0 && !evaluated {
		ids, err := router.Eligible(rule, next.Step, env, cands)
		if err != nil {
			next.Step = -1 // a later step's filter failed: the plain assignment applies
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
		if r.RuleID == 0 || v.QueueKind != QueueChannel {
			return nil // private queues have no auto-transfer
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
	l, ok := r.ruleList()
	if !ok || s.Routing == nil {
		return false, nil
	}
	rt, err := s.routeOf(ctx, db, r.ID)
	if err != nil || !rt.holds(r.QueueKind, r.QueueID) {
		return false, err
	}
	rules, err := s.Routing.Rules(ctx, l)
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
		routes, err := s.waitingRoutes(ctx)
		if err != nil {
			return nil, err
		}
		chans.routes = routes
	}
	if r, ok := chans.routes[id]; ok {
		return &r, nil
	}
	return nil, nil
}

// waitingRoutes are the routes of the waiting sessions, the only ones a
// route applies to.
func (s *Service) waitingRoutes(ctx context.Context) (map[int64]routeRow, error) {
	var rows []routeRow
	if err := s.DB.NewSelect().Model(&rows).
		Where("session_id IN (SELECT id FROM sessions WHERE state = ?)", session.Waiting).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load routes: %w", err)
	}
	out := make(map[int64]routeRow, len(rows))
	for _, r := range rows {
		out[r.SessionID] = r
	}
	return out, nil
}

// Waiting counts the sessions waiting to be routed by a list (routing's
// queue.waiting): those waiting in the channel, or the private sessions of
// the group waiting for their creators.
func (s *Service) Waiting(ctx context.Context, l RuleList) (int, error) {
	q := s.DB.NewSelect().Model((*row)(nil)).Where("state = ?", session.Waiting)
	if l.ChannelID != 0 {
		q = q.Where("queue_kind = ? AND queue_id = ?", QueueChannel, l.ChannelID)
	} else {
		q = q.Where("kind = ? AND queue_kind = ? AND tech_group_id = ?", session.Private, QueueTechnician, l.GroupID)
	}
	n, err := q.Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count waiting sessions: %w", err)
	}
	return int(n), nil
}

// RerouteWaiting re-evaluates the rules of every waiting session rules may
// route, e.g. when a technician's status changes: who passes a step's
// filter may have changed. Unlike DispatchWaiting it neither auto-starts
// nor applies working hours, so without rules it changes nothing.
func (s *Service) RerouteWaiting(ctx context.Context) error {
	if s.Routing == nil {
		return nil
	}
	var ids []int64
	if err := s.DB.NewSelect().Model((*row)(nil)).Column("id").
		Where("state = ? AND (queue_kind = ? OR kind = ?)", session.Waiting, QueueChannel, session.Private).OrderExpr("id").Scan(ctx, &ids); err != nil {
		return fmt.Errorf("list waiting sessions: %w", err)
	}
	for _, id := range ids {
		v, prev, err := s.getRouted(ctx, id)
		if err != nil {
			continue // gone meanwhile
		}
		s.route(ctx, v, prev, nil)
	}
	return nil
}
