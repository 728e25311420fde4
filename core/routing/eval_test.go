package routing

import (
	"reflect"
	"slices"
	"testing"

	"github.com/expr-lang/expr/parser"
)

// The environments programs run against are the documented ones plus
// in_strings, field for field.
func TestRunEnvsMatch(t *testing.T) {
	for _, tc := range []struct{ public, run any }{{Env{}, predicateEnv{}}, {FilterEnv{}, filterEnv{}}} {
		pub, run := reflect.TypeOf(tc.public), reflect.TypeOf(tc.run)
		if run.NumField() != pub.NumField()+1 || run.Field(pub.NumField()).Name != "InStrings" {
			t.Fatalf("%v has fields other than %v's and InStrings", run, pub)
		}
		for i := range pub.NumField() {
			a, b := pub.Field(i), run.Field(i)
			if a.Name != b.Name || a.Type != b.Type || a.Tag != b.Tag {
				t.Errorf("%v field %d is %s %v %q, %v has %s %v %q", pub, i, a.Name, a.Type, a.Tag, run, b.Name, b.Type, b.Tag)
			}
		}
	}
}

// Every technician field has a bit, so that a filter reading it is keyed
// on it (an unknown field would make the filter uncacheable, which is
// safe but slow).
func TestTechnicianReads(t *testing.T) {
	typ := reflect.TypeFor[TechnicianEnv]()
	for i := range typ.NumField() {
		if _, ok := techFieldBits[typ.Field(i).Tag.Get("expr")]; !ok {
			t.Errorf("technician.%s has no techFields bit", typ.Field(i).Tag.Get("expr"))
		}
	}
	for _, tc := range []struct {
		src  string
		want techFields
	}{
		{`technician.status == "online" && "scanners" in technician.skills`, readsStatus | readsSkills},
		{`session.language in technician.languages && technician.active_sessions < 2`, readsLanguages | readsActiveSessions},
		{`technician?.group_id == 5 && technician["channel_ids"] != nil`, readsGroupID | readsChannelIDs},
		{`any(technician.skills, {# == technician.name})`, readsSkills | readsName},
		{`technician.id % 2 == 0 || technician.idle_seconds > 60`, readsID | readsIdleSeconds},
		{`session.cfield0 == ""`, 0},
		{`technician[session.cfield0] == nil`, readsAll},
		{`$env.technician.status == "online"`, readsAll},
	} {
		tree, err := parser.Parse(tc.src)
		if err != nil {
			t.Fatal(err)
		}
		if got := technicianReads(tree.Node); got != tc.want {
			t.Errorf("%s: reads %b, want %b", tc.src, got, tc.want)
		}
	}
}

// The result cache gives the same answers as evaluating every candidate,
// and a failing filter still fails on the first candidate it fails for.
func TestFilterCacheAgreesWithEvaluation(t *testing.T) {
	f := newRoutingFixture(t, Target{Kind: TargetChannel, IDs: []int64{3}}, false)
	for _, src := range []string{
		`technician.status == "online" && "scanners" in technician.skills`,
		`technician.active_sessions < 2 && session.language in technician.languages`,
		`technician.group_id in [1, 3, 5] || 11 in technician.channel_ids`,
		`technician.status != "away"`,
		`technician.skills[1] == "printers"`,
	} {
		p, err := Compile(src, KindFilter)
		if err != nil {
			t.Fatal(err)
		}
		if !cacheable(p) {
			t.Fatalf("%s is not cached", src)
		}
		e := getEvaluator()
		e.setEnv(&f.env)
		e.startCache()
		var want, got []int
		for j := range f.candidates {
			ok, err := e.accept(p, &f.candidates[j])
			ok2, err2 := e.acceptCached(p, f.candidates, j)
			if ok != ok2 || (err == nil) != (err2 == nil) {
				t.Fatalf("%s, candidate %d: %v %v, cached %v %v", src, j, ok, err, ok2, err2)
			}
			if ok {
				want = append(want, j)
			}
			if ok2 {
				got = append(got, j)
			}
		}
		e.put()
		if !slices.Equal(want, got) || len(got) == 0 || len(got) == len(f.candidates) {
			t.Errorf("%s: %d eligible, cached %d", src, len(want), len(got))
		}
	}

	if d := newRoutingFixture(t, Target{Kind: TargetChannel, IDs: []int64{3}}, true); cacheable(d.rules[49].filters[0]) {
		t.Error("the distinct fixture's filter is cached")
	}

	// The first candidate without a second skill fails, cached or not.
	techs := slices.Clone(f.candidates)
	techs[700].Skills = techs[700].Skills[:1]
	techs[900].Skills = techs[900].Skills[:1]
	r := mustRule(t, Rule{ID: 1, Enabled: true, When: `true`, Then: Then{
		Target: Target{Kind: TargetChannel, IDs: []int64{3}},
		Steps:  []Step{{Filter: `technician.skills[1] != ""`}},
	}})
	var router Router
	d := router.Route([]CompiledRule{r}, f.env, techs)
	if d.Matched || len(d.Skipped) != 1 || d.Skipped[0].TechnicianID != techs[700].ID {
		t.Errorf("decision %+v", d)
	}
}
