package routing

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Router picks the rule for a waiting session. The zero value is ready; a
// Router is safe for concurrent use.
type Router struct {
	// OnFailure, when set, hears every rule skipped because it failed at run
	// time (for /metrics and the admin's "last error"). It is called
	// synchronously and must be quick; FailureLog.Record is one.
	OnFailure func(Failure)
}

// Failure is a rule that failed at run time and was skipped.
type Failure struct {
	RuleID   int64
	RuleName string
	// Step is the step whose filter failed, -1 for the `when` predicate.
	Step int
	// TechnicianID is the candidate the filter failed on, 0 for `when`.
	TechnicianID int64
	Err          error
	// Panicked says the evaluation panicked (and was recovered): a bug in
	// expr or in the router, worth an alert of its own.
	Panicked bool
}

// Decision is the outcome of routing one session. With Matched false no
// rule applies and the channel's plain assignment (CH-2) does.
type Decision struct {
	Matched         bool   `json:"matched"`
	RuleID          int64  `json:"rule_id,omitempty"`
	RuleName        string `json:"rule_name,omitempty"`
	SessionPriority int    `json:"session_priority"`
	// Steps is the matched rule's escalation chain with, for each step, who
	// would be offered the session now and why the others would not.
	Steps []StepDecision `json:"steps,omitempty"`
	// Skipped lists the rules that failed at run time, in evaluation order.
	Skipped []Skipped `json:"skipped,omitempty"`
	// Trace is filled by Explain only: every rule in evaluation order with
	// what became of it, up to the one that matched.
	Trace []RuleTrace `json:"trace,omitempty"`
}

// RuleTrace is what became of one rule during Explain.
type RuleTrace struct {
	RuleID   int64   `json:"rule_id"`
	RuleName string  `json:"rule_name"`
	Outcome  Outcome `json:"outcome"`
}

// Outcome is what became of a rule during routing.
type Outcome uint8

const (
	// OutcomeDisabled: the rule is disabled.
	OutcomeDisabled Outcome = iota + 1
	// OutcomeNotApplicable: the rule does not apply to the session's channel or group.
	OutcomeNotApplicable
	// OutcomeFalse: the rule's when is false for the session.
	OutcomeFalse
	// OutcomeFailed: the rule failed at run time and was skipped (see Skipped).
	OutcomeFailed
	// OutcomeMatched: the rule decided.
	OutcomeMatched
)

var outcomeCodes = [...]string{"", "disabled", "not_applicable", "false", "failed", "matched"}

// String returns the outcome's stable code.
func (o Outcome) String() string {
	if int(o) < len(outcomeCodes) {
		return outcomeCodes[o]
	}
	return "unknown"
}

// MarshalText writes the stable code.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// StepDecision is one step of the matched rule.
type StepDecision struct {
	Target Target `json:"target"`
	Filter string `json:"filter,omitempty"`
	// Wait is how long the step lasts (0 on the last step: until the
	// channel's own settings act).
	Wait time.Duration `json:"wait"`
	// StartsAfter is when the step starts, counted from the match.
	StartsAfter time.Duration `json:"starts_after"`
	// Eligible are the candidates in the target for whom the filter holds,
	// in candidate order. Route fills it for the first step only: a later
	// step is evaluated by Eligible when it starts, against the technicians
	// online then. Explain fills every step.
	Eligible []int64 `json:"eligible"`
	// Excluded are the other candidates, each with its reason; filled by
	// Explain only, so that Route allocates nothing per candidate.
	Excluded []Exclusion `json:"excluded,omitempty"`
	// Error is set by Explain when a later step's filter fails at run time:
	// when that step starts, the chain ends and the channel's settings apply.
	Error string `json:"error,omitempty"`
}

// MarshalJSON writes the wait and the start as duration strings ("2m0s"),
// as rules carry them.
func (s StepDecision) MarshalJSON() ([]byte, error) {
	type plain StepDecision
	return json.Marshal(struct {
		plain
		Wait        string `json:"wait"`
		StartsAfter string `json:"starts_after"`
	}{plain(s), s.Wait.String(), s.StartsAfter.String()})
}

// Skipped is a rule that failed at run time during this routing.
type Skipped struct {
	RuleID       int64  `json:"rule_id"`
	RuleName     string `json:"rule_name"`
	Step         int    `json:"step"`
	TechnicianID int64  `json:"technician_id,omitempty"`
	Error        string `json:"error"`
}

// Exclusion is a candidate a step would not offer the session to.
type Exclusion struct {
	TechnicianID int64  `json:"technician_id"`
	Reason       Reason `json:"reason"`
}

// Reason says why a candidate is excluded from a step.
type Reason uint8

const (
	// ReasonOutsideGroup: the target is groups and the candidate is in none of them.
	ReasonOutsideGroup Reason = iota + 1
	// ReasonOutsideChannel: the target is channels the candidate takes no sessions from.
	ReasonOutsideChannel
	// ReasonNotListed: the target is technicians and the candidate is not one of them.
	ReasonNotListed
	// ReasonFilter: the step's filter is false for the candidate.
	ReasonFilter
	// ReasonTooManyAttributes: the candidate has more than MaxListLen
	// skills, languages or channels, so the filter is not run on them.
	ReasonTooManyAttributes
)

var reasonCodes = [...]string{"", "outside_group", "outside_channel", "not_listed", "filter", "too_many_attributes"}

var reasonMessages = [...]string{"",
	"is not in the target's groups",
	"does not take sessions from the target's channels",
	"is not one of the target's technicians",
	"does not pass the step's filter",
	fmt.Sprintf("has more than %d skills, languages or channels", MaxListLen),
}

// String returns the reason's stable code.
func (r Reason) String() string {
	if int(r) < len(reasonCodes) {
		return reasonCodes[r]
	}
	return "unknown"
}

// Message returns the reason as a sentence about the technician.
func (r Reason) Message() string {
	if int(r) < len(reasonMessages) {
		return reasonMessages[r]
	}
	return "is excluded"
}

// MarshalText writes the stable code.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a stable code.
func (r *Reason) UnmarshalText(b []byte) error {
	i := slices.Index(reasonCodes[:], string(b))
	if i <= 0 {
		return fmt.Errorf("routing: unknown exclusion reason %q", b)
	}
	*r = Reason(i)
	return nil
}

// Route evaluates rules for the session in env and returns the decision:
// the first enabled rule, in priority order (lower Priority first, then
// lower ID), that applies to the session and whose `when` is true, with
// every step's target and wait and the candidates eligible now for the
// first step. A rule that fails at run time, in its `when` or in its first
// step's filter, is skipped (recorded in Decision.Skipped and reported to
// OnFailure) and the next rule is tried. Route never panics. candidates
// are the technicians who are online.
func (r *Router) Route(rules []CompiledRule, env Env, candidates []TechnicianEnv) Decision {
	return r.route(rules, env, candidates, false)
}

// Explain is Route for the dry run: the same decision, plus every step's
// eligible candidates, the reason each other candidate is excluded, a
// later step's filter failure (StepDecision.Error), and a trace of every
// rule evaluated. Failures in a dry run are not reported to OnFailure.
func (r *Router) Explain(rules []CompiledRule, env Env, candidates []TechnicianEnv) Decision {
	return r.route(rules, env, candidates, true)
}

func (r *Router) route(rules []CompiledRule, env Env, candidates []TechnicianEnv, explain bool) (d Decision) {
	defer func() {
		if v := recover(); v != nil {
			// A bug in the router itself: fall back to plain assignment.
			err := fmt.Errorf("%w: router: %v", ErrPanic, v)
			d = Decision{Skipped: append(d.Skipped, Skipped{Step: -1, Error: err.Error()}), Trace: d.Trace}
			r.fail(Failure{Step: -1, Err: err, Panicked: true})
		}
	}()
	e := getEvaluator()
	defer e.put()
	e.setEnv(&env)

	if !inPriorityOrder(rules) {
		rules = slices.Clone(rules)
		slices.SortStableFunc(rules, comparePriority)
	}
	for i := range rules {
		c := &rules[i]
		outcome := r.try(e, c, candidates, explain, &d)
		if explain {
			d.Trace = append(d.Trace, RuleTrace{RuleID: c.Rule.ID, RuleName: c.Rule.Name, Outcome: outcome})
		}
		if outcome == OutcomeMatched {
			return d
		}
	}
	return d
}

// try evaluates one rule, filling d when it matches or fails.
func (r *Router) try(e *evaluator, c *CompiledRule, candidates []TechnicianEnv, explain bool, d *Decision) Outcome {
	switch {
	case !c.Rule.Enabled || c.when == nil:
		return OutcomeDisabled
	case !c.Rule.AppliesTo.matches(&e.env.Session):
		return OutcomeNotApplicable
	}
	ok, err := e.match(c.when)
	if err != nil {
		d.Skipped = append(d.Skipped, r.skip(c, -1, 0, err, !explain))
		return OutcomeFailed
	}
	if !ok {
		return OutcomeFalse
	}
	steps, failed := r.steps(e, c, candidates, explain)
	if failed != nil {
		d.Skipped = append(d.Skipped, *failed)
		return OutcomeFailed
	}
	d.Matched, d.RuleID, d.RuleName = true, c.Rule.ID, c.Rule.Name
	d.SessionPriority, d.Steps = c.Rule.Then.SessionPriority, steps
	return OutcomeMatched
}

// steps finds the eligible candidates of the first step (Route) or of every
// step with the reasons for the others (Explain). A failing filter in the
// first step skips the rule; in a later step it is recorded on that step,
// as the queue will meet it only when the step starts (see Eligible). The
// eligible IDs of all steps share one slice, cut per step at the end, so
// that a routing costs a handful of allocations however many candidates
// there are: the IDs are collected in the evaluator's scratch slice and
// copied once, at their final length.
func (r *Router) steps(e *evaluator, c *CompiledRule, candidates []TechnicianEnv, explain bool) ([]StepDecision, *Skipped) {
	out := make([]StepDecision, len(c.steps))
	var endsBuf [10]int // a rule has at most 10 steps (Then.Steps)
	ends := endsBuf[:0]
	eligible := e.ids[:0]
	var starts time.Duration
	for i, s := range c.steps {
		sd := &out[i]
		sd.Target, sd.Filter, sd.Wait, sd.StartsAfter = s.Target, s.Filter, s.Wait, starts
		starts += s.Wait
		ends = append(ends, len(eligible))
		if i > 0 && !explain {
			continue
		}
		var excluded *[]Exclusion
		if explain {
			excluded = &sd.Excluded
		}
		start := len(eligible)
		more, tech, err := eligibleFor(e, c, i, candidates, eligible, excluded)
		switch {
		case err != nil && i == 0:
			e.ids = eligible[:0]
			skipped := r.skip(c, i, tech, err, !explain)
			return nil, &skipped
		case err != nil:
			sd.Error, sd.Excluded = fmt.Sprintf("technician %d: %v", tech, err), nil
			eligible = eligible[:start]
		default:
			eligible = more
		}
		ends[i] = len(eligible)
	}
	e.ids = eligible[:0]
	ids := make([]int64, len(eligible))
	copy(ids, eligible)
	from := 0
	for i := range out {
		if i == 0 || explain {
			out[i].Eligible = ids[from:ends[i]:ends[i]]
		}
		from = ends[i]
	}
	return out, nil
}

// eligibleFor appends to dst the candidates eligible for step i of c and,
// if excluded is not nil, records the others with their reasons. On a
// filter failure it returns the error and the candidate it failed on.
func eligibleFor(e *evaluator, c *CompiledRule, i int, candidates []TechnicianEnv, dst []int64, excluded *[]Exclusion) (_ []int64, tech int64, err error) {
	target, filter := &c.steps[i].Target, c.filters[i]
	vmRuns, j := 0, 0
	// The VM recovers its own panics; this is the fence for the rest of
	// the pass (native filters, the cache), once rather than per candidate.
	defer func() {
		if r := recover(); r != nil {
			tech, err = candidates[j].ID, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	for ; j < len(candidates); j++ {
		t := &candidates[j]
		why := target.excludes(t)
		if why == 0 && filter != nil {
			if len(t.Skills) > MaxListLen || len(t.Languages) > MaxListLen || len(t.ChannelIDs) > MaxListLen {
				why = ReasonTooManyAttributes
			} else if filter.native != nil {
				if !filter.native(e.nenv, t) {
					why = ReasonFilter
				}
			} else {
				ok, err := e.filterAt(filter, candidates, j, &vmRuns)
				if err != nil {
					return dst, t.ID, err
				}
				if !ok {
					why = ReasonFilter
				}
			}
		}
		switch {
		case why == 0:
			dst = append(dst, t.ID)
		case excluded != nil:
			*excluded = append(*excluded, Exclusion{t.ID, why})
		}
	}
	return dst, 0, nil
}

// Eligible returns who is eligible now for step of c, for the queue when
// Escalate moves a session on and technicians have changed since Route.
// A filter failing at run time is reported to OnFailure and returned as
// an error: the rule no longer applies and the channel's settings do.
func (r *Router) Eligible(c *CompiledRule, step int, env Env, candidates []TechnicianEnv) (ids []int64, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: router: %v", ErrPanic, v)
			r.fail(Failure{RuleID: c.Rule.ID, RuleName: c.Rule.Name, Step: step, Err: err, Panicked: true})
		}
	}()
	if step < 0 || step >= len(c.steps) {
		return nil, fmt.Errorf("routing: rule %d has no step %d", c.Rule.ID, step)
	}
	e := getEvaluator()
	defer e.put()
	e.setEnv(&env)
	ids, tech, err := eligibleFor(e, c, step, candidates, []int64{}, nil)
	if err != nil {
		r.skip(c, step, tech, err, true)
		return nil, err
	}
	return ids, nil
}

// skip records a rule failing at run time, and counts it unless it happened
// in a dry run (hand-written sessions should not move /metrics).
func (r *Router) skip(c *CompiledRule, step int, techID int64, err error, count bool) Skipped {
	if count {
		r.fail(Failure{RuleID: c.Rule.ID, RuleName: c.Rule.Name, Step: step, TechnicianID: techID, Err: err, Panicked: errors.Is(err, ErrPanic)})
	}
	return Skipped{RuleID: c.Rule.ID, RuleName: c.Rule.Name, Step: step, TechnicianID: techID, Error: err.Error()}
}

func (r *Router) fail(f Failure) {
	if r.OnFailure != nil {
		r.OnFailure(f)
	}
}

func comparePriority(a, b CompiledRule) int { return compareRules(&a, &b) }

// compareRules is comparePriority without copying the rules, for the check
// every routing makes.
func compareRules(a, b *CompiledRule) int {
	if c := cmp.Compare(a.Rule.Priority, b.Rule.Priority); c != 0 {
		return c
	}
	return cmp.Compare(a.Rule.ID, b.Rule.ID)
}

func inPriorityOrder(rules []CompiledRule) bool {
	for i := 1; i < len(rules); i++ {
		if compareRules(&rules[i-1], &rules[i]) > 0 {
			return false
		}
	}
	return true
}

// SortRules puts rules in the order Route evaluates them, so that Route
// does not copy and sort them on every call.
func SortRules(rules []CompiledRule) { slices.SortStableFunc(rules, comparePriority) }

// matches reports whether the rule applies to the session: channel
// sessions of ChannelIDs, private sessions of GroupIDs, or every session
// when both are empty.
func (a *AppliesTo) matches(s *SessionEnv) bool {
	if len(a.ChannelIDs) == 0 && len(a.GroupIDs) == 0 {
		return true
	}
	switch s.Kind {
	case SessionChannel:
		return slices.Contains(a.ChannelIDs, s.ChannelID)
	case SessionPrivate:
		return slices.Contains(a.GroupIDs, s.GroupID)
	}
	return false
}

// excludes returns why t is outside the target, or 0 if it is inside.
func (t *Target) excludes(c *TechnicianEnv) Reason {
	switch t.Kind {
	case TargetGroup:
		if !slices.Contains(t.IDs, c.GroupID) {
			return ReasonOutsideGroup
		}
	case TargetChannel:
		for _, id := range c.ChannelIDs {
			if slices.Contains(t.IDs, id) {
				return 0
			}
		}
		return ReasonOutsideChannel
	case TargetTechnicians:
		if !slices.Contains(t.IDs, c.ID) {
			return ReasonNotListed
		}
	}
	return 0
}
