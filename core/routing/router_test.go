package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustRule(t *testing.T, r Rule) CompiledRule {
	t.Helper()
	if r.Then.Target.Kind == "" {
		r.Then.Target = Target{Kind: TargetGroup, IDs: []int64{1}}
	}
	if r.Name == "" {
		r.Name = fmt.Sprintf("rule %d", r.ID)
	}
	c, err := CompileRule(r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func channelSession(channel int64, product string) Env {
	return Env{
		Session: SessionEnv{Kind: SessionChannel, ChannelID: channel, Language: "fr", Fields: map[string]string{"Product": product}},
		Clock:   ClockAt(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.UTC, true),
	}
}

func TestRouteFirstMatchInPriorityOrder(t *testing.T) {
	printer := `session.fields["Product"] == "Printer"`
	for _, tc := range []struct {
		name    string
		rules   []Rule
		env     Env
		want    int64 // 0: plain assignment
		outcome []Outcome
	}{
		{"no rules", nil, channelSession(3, "Printer"), 0, nil},
		{"first true wins", []Rule{
			{ID: 1, Enabled: true, Priority: 1, When: `false`},
			{ID: 2, Enabled: true, Priority: 2, When: printer},
			{ID: 3, Enabled: true, Priority: 3, When: `true`},
		}, channelSession(3, "Printer"), 2, []Outcome{OutcomeFalse, OutcomeMatched}},
		{"priority, not list order", []Rule{
			{ID: 1, Enabled: true, Priority: 20, When: `true`},
			{ID: 2, Enabled: true, Priority: 10, When: printer},
		}, channelSession(3, "Printer"), 2, []Outcome{OutcomeMatched}},
		{"equal priorities: lower ID first", []Rule{
			{ID: 9, Enabled: true, Priority: 5, When: `true`},
			{ID: 4, Enabled: true, Priority: 5, When: `true`},
		}, channelSession(3, ""), 4, []Outcome{OutcomeMatched}},
		{"disabled rules are passed over", []Rule{
			{ID: 1, Enabled: false, Priority: 1, When: `true`},
			{ID: 2, Enabled: true, Priority: 2, When: `true`},
		}, channelSession(3, ""), 2, []Outcome{OutcomeDisabled, OutcomeMatched}},
		{"applies to other channels", []Rule{
			{ID: 1, Enabled: true, Priority: 1, When: `true`, AppliesTo: AppliesTo{ChannelIDs: []int64{4, 5}}},
			{ID: 2, Enabled: true, Priority: 2, When: `true`, AppliesTo: AppliesTo{ChannelIDs: []int64{3}}},
		}, channelSession(3, ""), 2, []Outcome{OutcomeNotApplicable, OutcomeMatched}},
		{"group rules do not apply to channel sessions", []Rule{
			{ID: 1, Enabled: true, Priority: 1, When: `true`, AppliesTo: AppliesTo{GroupIDs: []int64{3}}},
		}, channelSession(3, ""), 0, []Outcome{OutcomeNotApplicable}},
		{"private session by group", []Rule{
			{ID: 1, Enabled: true, Priority: 1, When: `true`, AppliesTo: AppliesTo{ChannelIDs: []int64{7}}},
			{ID: 2, Enabled: true, Priority: 2, When: `session.kind == "private"`, AppliesTo: AppliesTo{GroupIDs: []int64{7}}},
		}, Env{Session: SessionEnv{Kind: SessionPrivate, GroupID: 7}}, 2, []Outcome{OutcomeNotApplicable, OutcomeMatched}},
		{"nothing true: plain assignment", []Rule{
			{ID: 1, Enabled: true, When: `false`},
			{ID: 2, Enabled: true, When: printer},
		}, channelSession(3, "Scanner"), 0, []Outcome{OutcomeFalse, OutcomeFalse}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rules []CompiledRule
			for _, r := range tc.rules {
				rules = append(rules, mustRule(t, r))
			}
			before := fmt.Sprint(rules)
			var router Router
			d := router.Route(rules, tc.env, nil)
			if d.Matched != (tc.want != 0) || d.RuleID != tc.want {
				t.Fatalf("matched %v rule %d, want rule %d", d.Matched, d.RuleID, tc.want)
			}
			if d.Trace != nil {
				t.Error("Route filled the trace")
			}
			x := router.Explain(rules, tc.env, nil)
			var outcomes []Outcome
			for _, tr := range x.Trace {
				outcomes = append(outcomes, tr.Outcome)
			}
			if !reflect.DeepEqual(outcomes, tc.outcome) {
				t.Errorf("trace %v, want %v", outcomes, tc.outcome)
			}
			if fmt.Sprint(rules) != before {
				t.Error("Route reordered the caller's rules")
			}
		})
	}
}

func TestRouteDecision(t *testing.T) {
	r := mustRule(t, Rule{ID: 7, Name: "vip", Enabled: true, When: `true`, Then: Then{
		Target: Target{Kind: TargetGroup, IDs: []int64{5}}, SessionPriority: 40,
		Steps: []Step{{Wait: time.Minute}, {Target: Target{Kind: TargetChannel, IDs: []int64{3}}, Wait: 4 * time.Minute}, {Target: Target{Kind: TargetTechnicians, IDs: []int64{1}}}},
	}})
	techs := []TechnicianEnv{{ID: 1, GroupID: 5}, {ID: 2, GroupID: 6, ChannelIDs: []int64{3}}}
	var router Router
	d := router.Route([]CompiledRule{r}, channelSession(3, ""), techs)
	x := router.Explain([]CompiledRule{r}, channelSession(3, ""), techs)
	for _, d := range []Decision{d, x} {
		if !d.Matched || d.RuleID != 7 || d.RuleName != "vip" || d.SessionPriority != 40 || len(d.Steps) != 3 {
			t.Fatalf("decision %+v", d)
		}
	}
	for i, want := range []struct {
		starts   time.Duration
		target   TargetKind
		eligible []int64
	}{{0, TargetGroup, []int64{1}}, {time.Minute, TargetChannel, []int64{2}}, {5 * time.Minute, TargetTechnicians, []int64{1}}} {
		s := x.Steps[i]
		if s.StartsAfter != want.starts || s.Target.Kind != want.target || !reflect.DeepEqual(s.Eligible, want.eligible) {
			t.Errorf("Explain step %d: %v %v %v, want %v %v %v", i, s.StartsAfter, s.Target.Kind, s.Eligible, want.starts, want.target, want.eligible)
		}
		// Route evaluates the first step only; later ones when they start.
		s = d.Steps[i]
		wantRoute := want.eligible
		if i > 0 {
			wantRoute = nil
		}
		if s.StartsAfter != want.starts || s.Target.Kind != want.target || !reflect.DeepEqual(s.Eligible, wantRoute) {
			t.Errorf("Route step %d: %v %v %v, want %v %v %v", i, s.StartsAfter, s.Target.Kind, s.Eligible, want.starts, want.target, wantRoute)
		}
	}
}

func TestFiltersWithReasons(t *testing.T) {
	r := mustRule(t, Rule{ID: 1, Enabled: true, When: `true`, Then: Then{
		Target: Target{Kind: TargetGroup, IDs: []int64{5, 6}},
		Steps: []Step{
			{Filter: `"printers" in technician.skills && technician.status == "online"`, Wait: 2 * time.Minute},
			{Filter: `session.language in technician.languages && technician.active_sessions < 2`, Wait: 3 * time.Minute},
			{Target: Target{Kind: TargetTechnicians, IDs: []int64{4, 5}}},
		},
	}})
	many := make([]string, MaxListLen+1)
	techs := []TechnicianEnv{
		{ID: 1, GroupID: 5, Skills: []string{"printers"}, Languages: []string{"fr"}, Status: "online"},
		{ID: 2, GroupID: 6, Skills: []string{"printers"}, Languages: []string{"en"}, Status: "away"},
		{ID: 3, GroupID: 9, Skills: []string{"printers"}, Languages: []string{"fr"}, Status: "online"},
		{ID: 4, GroupID: 5, Skills: []string{"scanners"}, Languages: []string{"fr"}, Status: "online", ActiveSessions: 2},
		{ID: 5, GroupID: 6, Skills: many, Status: "online"},
	}
	var router Router
	d := router.Explain([]CompiledRule{r}, channelSession(3, ""), techs)
	want := []StepDecision{
		{Eligible: []int64{1}, Excluded: []Exclusion{{2, ReasonFilter}, {3, ReasonOutsideGroup}, {4, ReasonFilter}, {5, ReasonTooManyAttributes}}},
		{Eligible: []int64{1}, Excluded: []Exclusion{{2, ReasonFilter}, {3, ReasonOutsideGroup}, {4, ReasonFilter}, {5, ReasonTooManyAttributes}}},
		{Eligible: []int64{4, 5}, Excluded: []Exclusion{{1, ReasonNotListed}, {2, ReasonNotListed}, {3, ReasonNotListed}}},
	}
	for i, w := range want {
		got := d.Steps[i]
		if !reflect.DeepEqual(got.Eligible, w.Eligible) || !reflect.DeepEqual(got.Excluded, w.Excluded) {
			t.Errorf("step %d: eligible %v excluded %v\nwant eligible %v excluded %v", i, got.Eligible, got.Excluded, w.Eligible, w.Excluded)
		}
	}
	if d.Steps[2].Target.Kind != TargetTechnicians || d.Steps[0].Filter == "" {
		t.Errorf("steps lost their target or filter: %+v", d.Steps)
	}
	// Route decides the same without the reasons, for the first step.
	rd := router.Route([]CompiledRule{r}, channelSession(3, ""), techs)
	if !reflect.DeepEqual(rd.Steps[0].Eligible, want[0].Eligible) || rd.Steps[0].Excluded != nil || rd.Steps[1].Eligible != nil {
		t.Errorf("Route steps: %+v", rd.Steps)
	}
	ids, err := router.Eligible(&r, 1, channelSession(3, ""), techs)
	if err != nil || !reflect.DeepEqual(ids, []int64{1}) {
		t.Errorf("Eligible(step 1) = %v, %v", ids, err)
	}
	if _, err := router.Eligible(&r, 3, channelSession(3, ""), techs); err == nil {
		t.Error("Eligible(step 3) of a 3-step rule succeeded")
	}
	if got := ReasonTooManyAttributes.Message(); !strings.Contains(got, "32") {
		t.Errorf("reason message %q", got)
	}
}

func TestNoEligibleTechnicianIsAnEmptyList(t *testing.T) {
	r := mustRule(t, Rule{ID: 1, Enabled: true, When: `true`})
	var router Router
	d := router.Route([]CompiledRule{r}, channelSession(3, ""), nil)
	if d.Steps[0].Eligible == nil || len(d.Steps[0].Eligible) != 0 {
		t.Errorf("eligible = %#v, want an empty list", d.Steps[0].Eligible)
	}
}

func TestRunTimeErrorsSkipTheRule(t *testing.T) {
	var log FailureLog
	var heard []Failure
	router := Router{OnFailure: func(f Failure) { heard = append(heard, f); log.Record(f) }}
	divides := mustRule(t, Rule{ID: 1, Name: "divides", Enabled: true, Priority: 1, When: `100 % session.transfer_count == 0`})
	indexes := mustRule(t, Rule{ID: 2, Name: "indexes", Enabled: true, Priority: 2, When: `true`, Then: Then{
		Target: Target{Kind: TargetGroup, IDs: []int64{5}},
		Steps:  []Step{{Filter: `technician.skills[0] == "printers"`}},
	}})
	fallback := mustRule(t, Rule{ID: 3, Name: "fallback", Enabled: true, Priority: 3, When: `true`})
	techs := []TechnicianEnv{{ID: 10, GroupID: 5, Skills: []string{"printers"}}, {ID: 11, GroupID: 5}}

	d := router.Route([]CompiledRule{divides, indexes, fallback}, channelSession(3, ""), techs)
	if !d.Matched || d.RuleID != 3 {
		t.Fatalf("matched rule %d, want the fallback rule 3", d.RuleID)
	}
	if len(d.Skipped) != 2 || d.Skipped[0].RuleID != 1 || d.Skipped[0].Step != -1 ||
		d.Skipped[1].RuleID != 2 || d.Skipped[1].Step != 0 || d.Skipped[1].TechnicianID != 11 {
		t.Fatalf("skipped %+v", d.Skipped)
	}
	if !strings.Contains(d.Skipped[0].Error, "integer divide by zero") || !strings.Contains(d.Skipped[1].Error, "index out of range") {
		t.Errorf("errors %q / %q", d.Skipped[0].Error, d.Skipped[1].Error)
	}
	if len(heard) != 2 || heard[0].Panicked || heard[1].RuleName != "indexes" {
		t.Errorf("OnFailure heard %+v", heard)
	}
	// The dry run shows the same, without counting.
	x := router.Explain([]CompiledRule{divides, indexes, fallback}, channelSession(3, ""), techs)
	if got := []Outcome{x.Trace[0].Outcome, x.Trace[1].Outcome, x.Trace[2].Outcome}; !reflect.DeepEqual(got, []Outcome{OutcomeFailed, OutcomeFailed, OutcomeMatched}) {
		t.Errorf("trace %v", got)
	}
	if x.RuleID != 3 || len(x.Skipped) != 2 || len(heard) != 2 {
		t.Errorf("dry run: rule %d, skipped %d, heard %d", x.RuleID, len(x.Skipped), len(heard))
	}

	// Without the fallback rule: plain assignment, the session is not lost.
	d = router.Route([]CompiledRule{divides, indexes}, channelSession(3, ""), techs)
	if d.Matched || len(d.Skipped) != 2 {
		t.Errorf("decision %+v, want plain assignment with two skipped rules", d)
	}
	snap := log.Snapshot()
	if snap[1].Count != 2 || snap[2].Count != 2 || snap[2].LastStep != 0 || !strings.Contains(snap[1].LastError, "divide") {
		t.Errorf("failure log %+v", snap)
	}
	// A filter failing in Eligible is reported too.
	if _, err := router.Eligible(&indexes, 0, channelSession(3, ""), techs); err == nil || log.Snapshot()[2].Count != 3 {
		t.Errorf("Eligible = %v, log %+v", err, log.Snapshot()[2])
	}
}

func TestLaterStepFailureEndsTheChainThere(t *testing.T) {
	var log FailureLog
	router := Router{OnFailure: log.Record}
	r := mustRule(t, Rule{ID: 1, Enabled: true, When: `true`, Then: Then{Target: Target{Kind: TargetGroup, IDs: []int64{5}}, Steps: []Step{
		{Wait: time.Minute},
		{Filter: `technician.skills[0] == "printers"`},
	}}})
	techs := []TechnicianEnv{{ID: 10, GroupID: 5}}
	// Routing meets only the first step: the rule applies.
	d := router.Route([]CompiledRule{r}, channelSession(3, ""), techs)
	if d.RuleID != 1 || len(d.Skipped) != 0 || !reflect.DeepEqual(d.Steps[0].Eligible, []int64{10}) {
		t.Fatalf("Route %+v", d)
	}
	// The dry run shows the failure where it will happen.
	x := router.Explain([]CompiledRule{r}, channelSession(3, ""), techs)
	if x.RuleID != 1 || !strings.Contains(x.Steps[1].Error, "technician 10: index out of range") || len(x.Steps[1].Eligible) != 0 {
		t.Errorf("Explain step 1 %+v", x.Steps[1])
	}
	if len(log.Snapshot()) != 0 {
		t.Error("a dry run was counted")
	}
	// When the step starts, Eligible fails and counts it; the queue applies
	// the channel's settings.
	if _, err := router.Eligible(&r, 1, channelSession(3, ""), techs); err == nil || log.Snapshot()[1].LastStep != 1 {
		t.Errorf("Eligible = %v, log %+v", err, log.Snapshot())
	}
}

func TestPanicsAreRecoveredAndCounted(t *testing.T) {
	var log FailureLog
	router := Router{OnFailure: log.Record}
	broken := mustRule(t, Rule{ID: 1, Enabled: true, Priority: 1, When: `true`})
	broken.when = &Program{src: "broken", kind: KindPredicate} // no bytecode: expr's own recovery panics
	fallback := mustRule(t, Rule{ID: 2, Enabled: true, Priority: 2, When: `true`})
	d := router.Route([]CompiledRule{broken, fallback}, channelSession(3, ""), nil)
	if d.RuleID != 2 || len(d.Skipped) != 1 {
		t.Fatalf("decision %+v", d)
	}
	if f := log.Snapshot()[1]; f.Count != 1 || f.Panics != 1 {
		t.Errorf("failure log %+v", f)
	}
	if _, err := broken.when.Match(&Env{}); !errors.Is(err, ErrPanic) {
		t.Errorf("Match = %v, want ErrPanic", err)
	}

	// A bug in the router itself (here, a step without a filter slot)
	// falls back to plain assignment.
	odd := mustRule(t, Rule{ID: 3, Enabled: true, When: `true`})
	odd.filters = nil
	d = router.Route([]CompiledRule{odd}, channelSession(3, ""), []TechnicianEnv{{ID: 1, GroupID: 1}})
	if d.Matched || len(d.Skipped) != 1 || !strings.Contains(d.Skipped[0].Error, "panicked") {
		t.Errorf("decision %+v", d)
	}
	if log.Snapshot()[0].Panics != 1 {
		t.Errorf("router panic not counted: %+v", log.Snapshot())
	}
}

func TestZeroCompiledRuleMatchesNothing(t *testing.T) {
	var router Router
	if d := router.Route(make([]CompiledRule, 3), channelSession(3, ""), nil); d.Matched {
		t.Errorf("decision %+v", d)
	}
}

func TestRouteConcurrently(t *testing.T) {
	f := newRoutingFixture(t, Target{Kind: TargetChannel, IDs: []int64{3}}, false)
	want := routeGo(f.goRules, f.env, f.candidates, false)
	var router Router
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if got := router.Route(f.rules, f.env, f.candidates); !sameDecision(got, want) {
					t.Error("concurrent routing disagrees with the plain Go decision")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecisionJSON(t *testing.T) {
	r := mustRule(t, Rule{ID: 4, Name: "n", Enabled: true, When: `true`, Then: Then{
		Target: Target{Kind: TargetGroup, IDs: []int64{5}},
		Steps:  []Step{{Filter: `technician.status == "online"`, Wait: 90 * time.Second}, {}},
	}})
	var router Router
	d := router.Explain([]CompiledRule{r}, channelSession(3, ""), []TechnicianEnv{{ID: 1, GroupID: 5, Status: "away"}, {ID: 2, GroupID: 6}})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"matched":true`, `"rule_id":4`, `"wait":"1m30s"`, `"starts_after":"1m30s"`, `"eligible":[]`,
		`{"technician_id":1,"reason":"filter"}`, `{"technician_id":2,"reason":"outside_group"}`,
		`"trace":[{"rule_id":4,"rule_name":"n","outcome":"matched"}]`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s\nlacks %s", b, want)
		}
	}
}
