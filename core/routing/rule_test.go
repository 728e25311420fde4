package routing

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func validRule() Rule {
	return Rule{
		ID: 1, Name: "printers to level 2", Enabled: true, Priority: 10,
		AppliesTo: AppliesTo{ChannelIDs: []int64{3}},
		When:      `session.fields["Product"] == "Printer"`,
		Then: Then{Target: Target{Kind: TargetGroup, IDs: []int64{5}}, SessionPriority: 5, Steps: []Step{
			{Filter: `"printers" in technician.skills`, Wait: 2 * time.Minute},
			{Target: Target{Kind: TargetChannel, IDs: []int64{3}}},
		}},
	}
}

func TestCompileRuleReportsEveryFieldError(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Rule)
		want map[string]string // path -> message fragment
	}{
		{"valid", func(*Rule) {}, nil},
		{"no name, no when", func(r *Rule) { r.Name, r.When = "", "" }, map[string]string{
			"name": "is required", "when": "is required"}},
		{"bad target", func(r *Rule) { r.Then.Target = Target{Kind: "queue", IDs: []int64{-1}} }, map[string]string{
			"then.target.kind": "must be one of: group, channel, technicians", "then.target.ids[0]": "must satisfy gt=0"}},
		{"missing target", func(r *Rule) { r.Then.Target = Target{} }, map[string]string{
			"then.target.kind": "is required", "then.target.ids": "at least one ID"}},
		{"step target without IDs", func(r *Rule) { r.Then.Steps[1].Target.IDs = nil }, map[string]string{
			"then.steps[1].target.ids": "at least one ID"}},
		{"zero wait before the last step", func(r *Rule) { r.Then.Steps[0].Wait = 0 }, map[string]string{
			"then.steps[0].wait": "must be positive"}},
		{"wait too long", func(r *Rule) { r.Then.Steps[1].Wait = 25 * time.Hour }, map[string]string{
			"then.steps[1].wait": "between 0s and 24h"}},
		{"priority out of range", func(r *Rule) { r.Then.SessionPriority = 101 }, map[string]string{
			"then.session_priority": "must be at most 100"}},
		{"too many steps", func(r *Rule) {
			r.Then.Steps = make([]Step, 11)
			for i := range r.Then.Steps {
				r.Then.Steps[i].Wait = time.Minute
			}
		}, map[string]string{"then.steps": "must be at most 10 items"}},
		{"expressions", func(r *Rule) {
			r.When = `session.product == "x"`
			r.Then.Steps[1].Filter = `all(1..9, {true})`
		}, map[string]string{
			"when":                 "has no field product",
			"then.steps[1].filter": "ranges (..) are not allowed",
		}},
		{"technician in when", func(r *Rule) { r.When = `technician.status == "online"` }, map[string]string{
			"when": "technician is for step filters"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := validRule()
			tc.edit(&r)
			_, err := CompileRule(r)
			want := tc.want
			if len(want) == 0 {
				if err != nil {
					t.Fatalf("CompileRule = %v, want nil", err)
				}
				return
			}
			var errs RuleErrors
			if !errors.As(err, &errs) {
				t.Fatalf("CompileRule = %v, want RuleErrors", err)
			}
			got := map[string]string{}
			for _, fe := range errs {
				got[fe.Path] = fe.Message
			}
			if len(got) != len(want) {
				t.Errorf("errors %v, want paths %v", got, want)
			}
			for path, frag := range want {
				if !strings.Contains(got[path], frag) {
					t.Errorf("%s: %q, want %q", path, got[path], frag)
				}
			}
		})
	}
}

func TestExpressionFieldErrorsCarryPositions(t *testing.T) {
	r := validRule()
	r.Then.Steps[0].Filter = "technician.status == \"online\" &&\n  technician.idle == 3"
	_, err := CompileRule(r)
	var errs RuleErrors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("CompileRule = %v", err)
	}
	fe := errs[0]
	if fe.Path != "then.steps[0].filter" || fe.Line != 2 || fe.Column != 14 || !strings.Contains(fe.Message, "has no field idle") {
		t.Errorf("got %+v", fe)
	}
	f := errs.Fault()
	if msg := f.Fields["then.steps[0].filter"]; !strings.Contains(msg, "(line 2, column 14)") {
		t.Errorf("fault field = %q", msg)
	}
}

func TestCompileRulesRefusesAPackWhole(t *testing.T) {
	good, bad := validRule(), validRule()
	bad.When = `session.nope`
	bad.Then.Steps[0].Filter = `repeat("x", 9) == ""`
	_, err := CompileRules([]Rule{good, bad, good})
	var errs RuleErrors
	if !errors.As(err, &errs) {
		t.Fatalf("CompileRules = %v", err)
	}
	var paths []string
	for _, fe := range errs {
		paths = append(paths, fe.Path)
	}
	if want := []string{"rules[1].when", "rules[1].then.steps[0].filter"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("paths %v, want %v", paths, want)
	}
	rules, err := CompileRules([]Rule{good, good})
	if err != nil || len(rules) != 2 {
		t.Errorf("CompileRules(good) = %d rules, %v", len(rules), err)
	}
}

func TestEffectiveSteps(t *testing.T) {
	c, err := CompileRule(validRule())
	if err != nil {
		t.Fatal(err)
	}
	steps := c.Steps()
	if steps[0].Target.Kind != TargetGroup || steps[0].Target.IDs[0] != 5 {
		t.Errorf("step 0 does not inherit then.target: %+v", steps[0].Target)
	}
	if steps[1].Target.Kind != TargetChannel {
		t.Errorf("step 1 lost its own target: %+v", steps[1].Target)
	}
	r := validRule()
	r.Then.Steps = nil
	c, _ = CompileRule(r)
	if len(c.Steps()) != 1 || c.Steps()[0].Target.Kind != TargetGroup || c.Steps()[0].Wait != 0 {
		t.Errorf("no steps: %+v, want one on then.target", c.Steps())
	}
}

func TestRuleJSON(t *testing.T) {
	in := `{"name":"vip","enabled":true,"priority":1,"applies_to":{"channel_ids":[3]},
	  "when":"session.fields[\"Contract\"] == \"gold\"",
	  "then":{"target":{"kind":"group","ids":[5]},"session_priority":50,
	    "steps":[{"filter":"technician.active_sessions == 0","wait":"90s"},{"target":{"kind":"technicians","ids":[7,8]},"wait":120},{}]}}`
	var r Rule
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	if r.Then.Steps[0].Wait != 90*time.Second || r.Then.Steps[1].Wait != 2*time.Minute || r.Then.Steps[2].Wait != 0 {
		t.Errorf("waits %v %v %v", r.Then.Steps[0].Wait, r.Then.Steps[1].Wait, r.Then.Steps[2].Wait)
	}
	if _, err := CompileRule(r); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(r)
	if !strings.Contains(string(out), `"wait":"1m30s"`) || !strings.Contains(string(out), `"session_priority":50`) {
		t.Errorf("marshalled %s", out)
	}
	var back Rule
	if err := json.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("round trip: %v\n%+v\n%+v", err, back, r)
	}
	for _, bad := range []string{`{"wait":"soon"}`, `{"wait":-1}`, `{"wait":true}`, `{"wait":864000}`} {
		var s Step
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("Step %s accepted", bad)
		}
	}
}
