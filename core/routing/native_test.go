package routing

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// nativeFilters are in the native subset: each must compile to a native
// form, and give the VM's answer.
var nativeFilters = []string{
	`true`,
	`false`,
	`technician.status == "online"`,
	`technician.status != "away"`,
	`"online" == technician.status`,
	`technician["status"] == "online"`,
	`technician.name < "tech 5"`,
	`technician.name <= "tech 5"`,
	`technician.name > session.cfield0`,
	`technician.name >= "tech 50"`,
	`technician.name contains "1"`,
	`technician.name startsWith "tech 1"`,
	`technician.name startsWith "ech 1"`,
	`technician.name endsWith "9"`,
	`technician.name endsWith "tech"`,
	`technician.active_sessions < 2`,
	`technician.active_sessions <= 2`,
	`technician.idle_seconds > 60`,
	`technician.idle_seconds >= -1`,
	`-technician.idle_seconds < -5`,
	`technician.id == 5`,
	`technician.id != 5`,
	`technician.id > 999`,
	`technician.group_id == session.group_id`,
	`technician.group_id == session.channel_id`,
	`technician.id in [1, 2, 3, 500]`,
	`technician.group_id in [1, 3, 5]`,
	`technician.active_sessions in [0, 3]`,
	`technician.idle_seconds in [7, session.waiting_seconds, -1]`,
	`3 in technician.channel_ids`,
	`session.channel_id in technician.channel_ids`,
	`11 not in technician.channel_ids`,
	`technician.active_sessions in technician.channel_ids`,
	`"scanners" in technician.skills`,
	`session.language in technician.languages`,
	`"fr" not in technician.languages`,
	`technician.status in technician.skills`,
	`technician.status in ["online", "busy"]`,
	`technician.status not in ["away"]`,
	`technician.status in []`,
	`technician.status in [session.cfield0, "busy"]`,
	`!(technician.status == "online")`,
	`not (technician.active_sessions > 1)`,
	`technician.status == "online" and "scanners" in technician.skills or technician.group_id == 2`,
	`technician.status == "online" && ("scanners" in technician.skills || technician.group_id == 2) && technician.idle_seconds >= 0`,
	`technician.status == "away" || technician.status == "busy" || technician.active_sessions == 0`,
	`technician.status == "away" || technician.status == "busy" || technician.active_sessions == 0 || "fr" in technician.languages`,
	`technician.status != "away" && technician.active_sessions < 3 && technician.idle_seconds > 100`,
	`technician.status != "away" && technician.active_sessions < 3 && technician.idle_seconds > 100 && "en" in technician.languages`,
	`(technician.status == "online") == (technician.active_sessions < 2)`,
	`clock.in_working_hours != (technician.status == "busy")`,
	`session.fields["Product"] == "Scanner"`,
	`session.fields["nope"] == ""`,
	`session.fields.Product != technician.name`,
	`session.fields[technician.status] == ""`,
	`clock.minute_of_day >= hm("08:30") && clock.minute_of_day < hm("24:00")`,
	`queue.waiting > 3 || queue.available_total < 10`,
	`clock.weekday == "wed" && clock.date != "2026-12-24" && clock.time_zone == "UTC" && clock.hour == 10 && clock.minute == 30`,
	`session.kind == "channel" && session.channel_name == "Support" && session.platform == "" && session.client_kind == ""`,
	`session.calling_card == "" && session.tracking_id == "" && session.cfield0 == "" && session.cfield5 == ""`,
	`session.cfield1 < session.cfield2 || session.cfield3 >= session.cfield4`,
	`session.waiting_seconds >= 0 && session.transfer_count == 0`,
	`clock.in_working_hours`,
	`!clock.in_working_hours || technician.status == "online"`,
}

// vmFilters are not in the subset: they run on the VM, behind a guard
// when their leading && operands are in the subset.
var vmFilters = []struct {
	src   string
	guard bool
}{
	{`technician.skills[0] == "printers"`, false},
	{`any(technician.skills, {# == "scanners"})`, false},
	{`technician.idle_seconds / 60 > 1`, false},
	{`technician.idle_seconds + 1 > 1`, false},
	{`technician.idle_seconds > 1.5`, false},
	{`session.cfield0 matches "^a"`, false},
	{`has_any(technician.skills, ["x"])`, false},
	{`len(technician.skills) > 1`, false},
	{`queue.available[5] > 0`, false},
	{`(session.fields?.Product ?? "") == ""`, false},
	{`technician.status == "online" ? true : false`, false},
	{`$env.technician.status == "online"`, false},
	{`technician.status in ["online", 1]`, false},
	{`any(technician.skills, {# == "scanners"}) && technician.status == "online"`, false},
	{`technician.status == "online" && any(technician.skills, {# == "scanners"})`, true},
	{`technician.status == "online" && technician.active_sessions < 2 && technician.skills[1] == "scanners"`, true},
	{`(technician.status == "online" && technician.skills[1] == "scanners") && technician.active_sessions < 2`, true},
	{`technician.status == "online" || technician.skills[1] == "scanners"`, false},
}

var nativePredicates = []string{
	typicalPredicate,
	`session.fields["Product"] == "Product 3" && clock.in_working_hours`,
	`session.kind == "private" && session.group_id == 7 || session.channel_id in [1, 2, 3]`,
	`clock.weekday in ["sat", "sun"] || clock.minute_of_day < hm("08:00")`,
}

// nativeTechnicians are candidates at the edges: zero values, nil and
// empty lists, lists at the limit, negative numbers.
func nativeTechnicians(t *testing.T) []TechnicianEnv {
	f := newRoutingFixture(t, Target{Kind: TargetChannel, IDs: []int64{3}}, false)
	_, hostile := hostileEnvs()
	return append(f.candidates[:200:200],
		TechnicianEnv{},
		TechnicianEnv{ID: -1, GroupID: -3, ChannelIDs: []int64{}, Skills: []string{}, Languages: []string{}, ActiveSessions: -1, IdleSeconds: -7},
		TechnicianEnv{ID: 5, Name: "tech 5", Status: "online", Skills: []string{"scanners"}, Languages: []string{"fr"}, ChannelIDs: []int64{3, 11}},
		TechnicianEnv{Name: "", Status: "", Skills: []string{""}, Languages: []string{"", "fr"}},
		hostile.Technician,
	)
}

func nativeEnvs() []Env {
	hostile, _ := hostileEnvs()
	private := benchEnv()
	private.Session = SessionEnv{Kind: SessionPrivate, GroupID: 7, Language: "de", CField0: "tech 3", CField1: "b", CField2: "a",
		Fields: map[string]string{"Product": "Product 3", "online": "x"}}
	private.Clock = ClockAt(time.Date(2026, 12, 24, 7, 5, 0, 0, time.UTC), time.UTC, false)
	return []Env{benchEnv(), *hostile, private, {}}
}

// vmOnly is p without its native form and guard (nil stays nil).
func vmOnly(p *Program) *Program {
	if p == nil {
		return nil
	}
	q := *p
	q.native, q.guard = nil, nil
	return &q
}

func TestNativeAgreesWithVM(t *testing.T) {
	techs := nativeTechnicians(t)
	check := func(src string, kind Kind, wantNative, wantGuard bool) {
		t.Helper()
		p, err := Compile(src, kind)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if (p.native != nil) != wantNative || (p.guard != nil) != wantGuard {
			t.Errorf("%s: native %t, guard %t; want %t, %t", src, p.native != nil, p.guard != nil, wantNative, wantGuard)
		}
		vm := vmOnly(p)
		for ei, env := range nativeEnvs() {
			if kind == KindPredicate {
				got, gotErr := p.Match(&env)
				want, wantErr := vm.Match(&env)
				if got != want || (gotErr != nil) != (wantErr != nil) {
					t.Errorf("%s, env %d: %v %v, VM %v %v", src, ei, got, gotErr, want, wantErr)
				}
				continue
			}
			for ti := range techs {
				fenv := FilterEnv{Session: env.Session, Clock: env.Clock, Queue: env.Queue, Technician: techs[ti]}
				got, gotErr := p.Accept(&fenv)
				want, wantErr := vm.Accept(&fenv)
				if got != want || (gotErr != nil) != (wantErr != nil) {
					t.Fatalf("%s, env %d, technician %d: %v %v, VM %v %v", src, ei, ti, got, gotErr, want, wantErr)
				}
				if wantNative && wantErr != nil {
					t.Fatalf("%s fails on the VM (%v), so it is not in the subset", src, wantErr)
				}
			}
		}
	}
	for _, src := range nativeFilters {
		check(src, KindFilter, true, false)
	}
	for _, tc := range vmFilters {
		check(tc.src, KindFilter, false, tc.guard)
	}
	for _, src := range nativePredicates {
		check(src, KindPredicate, true, false)
	}
	// A predicate cannot name technician, so it is never native for one.
	if _, err := Compile(`technician.status == "online"`, KindPredicate); err == nil {
		t.Error("a predicate reading technician compiled")
	}
}

// The router decides the same with and without native evaluation, Explain
// included.
func TestRouteNativeAgreesWithVM(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		f := newRoutingFixture(t, Target{Kind: TargetChannel, IDs: []int64{3}}, distinct)
		vm := vmRules(f.rules)
		if f.rules[49].filters[0].native == nil {
			t.Fatal("the fixture's first filter is not native")
		}
		var r Router
		for _, route := range []func([]CompiledRule, Env, []TechnicianEnv) Decision{r.Route, r.Explain} {
			got, want := route(f.rules, f.env, f.candidates), route(vm, f.env, f.candidates)
			if !reflect.DeepEqual(got, want) || !got.Matched {
				t.Errorf("distinct %t: native and VM decide differently (rule %d, %d steps; rule %d, %d steps)",
					distinct, got.RuleID, len(got.Steps), want.RuleID, len(want.Steps))
			}
		}
	}
}

// Every string, integer, boolean and list field of the environment has a
// native accessor that reads it.
func TestNativeFields(t *testing.T) {
	var env FilterEnv
	nenv := nativeEnv{&env.Session, &env.Clock, &env.Queue}
	roots := []struct {
		name string
		v    reflect.Value
	}{
		{"session", reflect.ValueOf(&env.Session).Elem()},
		{"clock", reflect.ValueOf(&env.Clock).Elem()},
		{"queue", reflect.ValueOf(&env.Queue).Elem()},
		{"technician", reflect.ValueOf(&env.Technician).Elem()},
	}
	n := 0
	for _, root := range roots {
		for i := range root.v.NumField() {
			name := root.name + "." + root.v.Type().Field(i).Tag.Get("expr")
			f := root.v.Field(i)
			acc := fieldAccessors[name]
			var got, want any
			switch f.Kind() {
			case reflect.String:
				f.SetString("value of " + name)
				a, ok := acc.(stringField)
				if !ok {
					t.Errorf("%s: no string accessor", name)
					continue
				}
				got, want = a(nenv, &env.Technician), f.String()
			case reflect.Int, reflect.Int64:
				f.SetInt(int64(1000 + i))
				a, ok := acc.(intField)
				if !ok {
					t.Errorf("%s: no integer accessor", name)
					continue
				}
				got, want = a(nenv, &env.Technician), f.Int()
			case reflect.Bool:
				f.SetBool(true)
				a, ok := acc.(boolField)
				if !ok {
					t.Errorf("%s: no boolean accessor", name)
					continue
				}
				got, want = a(nenv, &env.Technician), true
			case reflect.Slice:
				if root.name != "technician" {
					continue
				}
				switch a := acc.(type) {
				case stringsField:
					f.Set(reflect.ValueOf([]string{"value of " + name}))
					got, want = a(&env.Technician), f.Interface()
				case idsField:
					f.Set(reflect.ValueOf([]int64{int64(2000 + i)}))
					got, want = a(&env.Technician), f.Interface()
				default:
					t.Errorf("%s: no list accessor", name)
					continue
				}
			default:
				continue // maps: session.fields is handled apart, queue.available is left to the VM
			}
			n++
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: accessor reads %v, the field is %v", name, got, want)
			}
		}
	}
	if n != len(fieldAccessors) {
		t.Errorf("%d fields checked, %d accessors", n, len(fieldAccessors))
	}
}

// A native filter or predicate that panics (a bug) fails its rule like a
// VM panic would; the next rule decides.
func TestNativePanicsSkipTheRule(t *testing.T) {
	var log FailureLog
	router := Router{OnFailure: log.Record}
	boom := func(nativeEnv, *TechnicianEnv) bool { panic("boom") }
	when := mustRule(t, Rule{ID: 1, Enabled: true, Priority: 1, When: `session.channel_id == 3`})
	p := *when.when
	p.native = boom
	when.when = &p
	filter := mustRule(t, Rule{ID: 2, Enabled: true, Priority: 2, When: `true`, Then: Then{
		Target: Target{Kind: TargetGroup, IDs: []int64{1}},
		Steps:  []Step{{Filter: `technician.status == "online" && any(technician.skills, {# == "x"})`}},
	}})
	q := *filter.filters[0]
	q.guard = boom
	filter.filters = []*Program{&q}
	fallback := mustRule(t, Rule{ID: 3, Enabled: true, Priority: 3, When: `true`})
	techs := []TechnicianEnv{{ID: 8, GroupID: 1}}
	d := router.Route([]CompiledRule{when, filter, fallback}, channelSession(3, ""), techs)
	if d.RuleID != 3 || len(d.Skipped) != 2 || d.Skipped[1].TechnicianID != 8 {
		t.Fatalf("decision %+v", d)
	}
	for _, s := range d.Skipped {
		if !strings.Contains(s.Error, "boom") {
			t.Errorf("skipped %+v", s)
		}
	}
	if s := log.Snapshot(); len(s) != 2 || s[1].Panics != 1 || s[2].Panics != 1 {
		t.Errorf("failure log %+v", s)
	}
	if _, err := router.Eligible(&filter, 0, channelSession(3, ""), techs); !errors.Is(err, ErrPanic) {
		t.Errorf("Eligible = %v, want ErrPanic", err)
	}
	if _, err := when.when.Match(&Env{}); !errors.Is(err, ErrPanic) {
		t.Errorf("Match = %v, want ErrPanic", err)
	}
	if _, err := q.Accept(&FilterEnv{}); !errors.Is(err, ErrPanic) {
		t.Errorf("Accept = %v, want ErrPanic", err)
	}
}

// checkNative holds a native form or guard to the VM's answer in the fuzz
// test; it returns "" when they agree.
func checkNative(p *Program, env *Env, fenv *FilterEnv) string {
	if p.native == nil && p.guard == nil {
		return ""
	}
	vm := vmOnly(p)
	var got, want bool
	var gotErr, wantErr error
	if p.Kind() == KindPredicate {
		got, gotErr = p.Match(env)
		want, wantErr = vm.Match(env)
	} else {
		got, gotErr = p.Accept(fenv)
		want, wantErr = vm.Accept(fenv)
	}
	switch {
	case got != want || (gotErr != nil) != (wantErr != nil):
		return fmt.Sprintf("native %v %v, VM %v %v", got, gotErr, want, wantErr)
	case p.native != nil && wantErr != nil:
		return fmt.Sprintf("native, but fails on the VM: %v", wantErr)
	}
	return ""
}

// The fuzz test's generator, from fixed seeds: every expression with a
// native form or guard gives the VM's answer, on the hostile environment
// and on ordinary candidates.
func TestNativeAgreesWithVMOnGeneratedExpressions(t *testing.T) {
	env, hostile := hostileEnvs()
	techs := nativeTechnicians(t)
	rnd := rand.New(rand.NewPCG(1, 2))
	var native, guarded int
	for range 3000 {
		seed := make([]byte, 8+rnd.IntN(56))
		for i := range seed {
			seed[i] = byte(rnd.UintN(256))
		}
		src := generateExpression(string(seed))
		p, err := compile(src, KindFilter)
		if err != nil {
			continue
		}
		switch {
		case p.native != nil:
			native++
		case p.guard != nil:
			guarded++
		default:
			continue
		}
		if msg := checkNative(p, env, hostile); msg != "" {
			t.Fatalf("%s: %s", src, msg)
		}
		for i := range techs {
			fenv := FilterEnv{Session: env.Session, Clock: env.Clock, Queue: env.Queue, Technician: techs[i]}
			if msg := checkNative(p, env, &fenv); msg != "" {
				t.Fatalf("%s, technician %d: %s", src, i, msg)
			}
		}
	}
	if native < 200 || guarded < 5 {
		t.Errorf("only %d native and %d guarded expressions generated", native, guarded)
	}
	t.Logf("%d native, %d guarded", native, guarded)
}
