package routing

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"
)

// The typical predicate of the issue, and the same decision in Go.
const typicalPredicate = `session.channel_id == 3 && session.fields["Product"] in ["Printer","Scanner"] && clock.in_working_hours`

func typicalGo(env *Env) bool {
	if env.Session.ChannelID != 3 || !env.Clock.InWorkingHours {
		return false
	}
	p := env.Session.Fields["Product"]
	return p == "Printer" || p == "Scanner"
}

func benchEnv() Env {
	return Env{
		Session: SessionEnv{Kind: SessionChannel, ChannelID: 3, ChannelName: "Support", Language: "fr",
			Fields: map[string]string{"Name": "Ada", "Product": "Scanner", "Contract": "gold"}},
		Clock: ClockAt(time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC), time.UTC, true),
		Queue: QueueEnv{Waiting: 4, Available: map[int]int{5: 12, 6: 3}, AvailableTotal: 400},
	}
}

func BenchmarkPredicate(b *testing.B) {
	p, err := Compile(typicalPredicate, KindPredicate)
	if err != nil {
		b.Fatal(err)
	}
	env := benchEnv()
	b.Run("expr", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if ok, err := p.Match(&env); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		defer cpuPerOp(b)()
		for b.Loop() {
			if !typicalGo(&env) {
				b.Fatal("false")
			}
		}
	})
	// Both in turn, so that the ratio is measured under the same load.
	b.Run("ratio", func(b *testing.B) {
		const n = 1000
		var exprTime, goTime time.Duration
		for b.Loop() {
			start := time.Now()
			for range n {
				_, _ = p.Match(&env)
			}
			mid := time.Now()
			for range n {
				_ = typicalGo(&env)
			}
			exprTime, goTime = exprTime+mid.Sub(start), goTime+time.Since(mid)
		}
		b.ReportMetric(float64(exprTime.Nanoseconds())/float64(b.N*n), "expr-ns")
		b.ReportMetric(float64(goTime.Nanoseconds())/float64(b.N*n), "go-ns")
		b.ReportMetric(float64(exprTime)/float64(goTime), "expr/go")
	})
}

// cpuPerOp reports allocations and, next to ns/op (wall time), the
// thread's CPU time per operation, which a shared machine inflates less.
// Use as defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	b.ReportAllocs()
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		if start != 0 {
			b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		}
		runtime.UnlockOSThread()
	}
}

// routingFixture is the routing benchmark: 50 rules for channel 3,
// only the last of which matches, and 1,000 online technicians in 20 groups
// of 50, all serving channel 3; the matching rule has three steps, each
// with a filter: first on the given target, then groups 5 to 7, then the
// whole channel. Every `when` and filter is in the native subset (see
// native.go), so Route runs them without the VM; the route/vm benchmarks
// route the same rules with the native forms removed, for what the VM
// costs. There the technicians' shared statuses and skills (245 different
// pairs of the two among the 1,000, as teams do) let the router's cache
// answer the first step's filter for most of them; the distinct variant
// also reads technician.idle_seconds (true for all), which every
// technician has a value of their own for, so that the filter runs on the
// VM for every candidate.
type routingFixture struct {
	rules      []CompiledRule
	env        Env
	candidates []TechnicianEnv
	goRules    []goRule
}

// goRule is a rule written as plain Go, for the comparison. Filters take
// the candidate by pointer, as Go written by hand would, rather than a
// FilterEnv with a copy of it.
type goRule struct {
	rule    Rule
	when    func(*Env) bool
	filters []func(*Env, *TechnicianEnv) bool
}

func newRoutingFixture(tb testing.TB, first Target, distinct bool) routingFixture {
	tb.Helper()
	var f routingFixture
	f.env = benchEnv()
	skills := []string{"printers", "scanners", "networking", "windows", "macos", "mobile", "billing"}
	langs := []string{"en", "fr", "de", "es"}
	statuses := []string{"online", "online", "online", "busy", "away"}
	for i := range 1000 {
		group := int64(i/50 + 1)
		f.candidates = append(f.candidates, TechnicianEnv{
			ID: int64(i + 1), Name: fmt.Sprintf("tech %d", i+1), GroupID: group,
			ChannelIDs: []int64{3, 10 + group},
			Skills:     []string{skills[i%7], skills[(i/7)%7]},
			Languages:  []string{langs[i%4], "en"},
			Status:     statuses[i%5], ActiveSessions: i % 4, IdleSeconds: i * 7 % 3600,
		})
	}
	for i := range 50 {
		r := Rule{ID: int64(i + 1), Name: fmt.Sprintf("rule %d", i+1), Enabled: true, Priority: i,
			AppliesTo: AppliesTo{ChannelIDs: []int64{3}},
			When:      fmt.Sprintf(`session.fields["Product"] == "Product %d" && clock.in_working_hours`, i),
			Then:      Then{Target: Target{Kind: TargetGroup, IDs: []int64{1}}},
		}
		product := fmt.Sprintf("Product %d", i)
		g := goRule{when: func(e *Env) bool { return e.Session.Fields["Product"] == product && e.Clock.InWorkingHours }}
		if i == 49 {
			r.When = typicalPredicate
			g.when = typicalGo
			first0 := `technician.status == "online" && "scanners" in technician.skills`
			if distinct {
				first0 += ` && technician.idle_seconds >= 0`
			}
			r.Then = Then{Target: first, SessionPriority: 10, Steps: []Step{
				{Filter: first0, Wait: 2 * time.Minute},
				{Target: Target{Kind: TargetGroup, IDs: []int64{5, 6, 7}}, Filter: `technician.active_sessions < 2 && session.language in technician.languages`, Wait: 5 * time.Minute},
				{Target: Target{Kind: TargetChannel, IDs: []int64{3}}, Filter: `technician.status != "away"`},
			}}
			g.filters = []func(*Env, *TechnicianEnv) bool{
				func(_ *Env, t *TechnicianEnv) bool {
					return t.Status == "online" && slices.Contains(t.Skills, "scanners") && (!distinct || t.IdleSeconds >= 0)
				},
				func(e *Env, t *TechnicianEnv) bool {
					return t.ActiveSessions < 2 && slices.Contains(t.Languages, e.Session.Language)
				},
				func(_ *Env, t *TechnicianEnv) bool { return t.Status != "away" },
			}
		}
		c, err := CompileRule(r)
		if err != nil {
			tb.Fatal(err)
		}
		g.rule = r
		f.rules = append(f.rules, c)
		f.goRules = append(f.goRules, g)
	}
	return f
}

// routeGo is Route written by hand for the fixture's rules: the same
// applies-to, priority, target and filter logic and the same Decision; with
// explain it is Explain (every step, reasons for the excluded).
func routeGo(rules []goRule, env Env, candidates []TechnicianEnv, explain bool) Decision {
	for _, g := range rules {
		if !g.rule.Enabled || !g.rule.AppliesTo.matches(&env.Session) || !g.when(&env) {
			continue
		}
		steps := effectiveSteps(g.rule.Then)
		out := make([]StepDecision, len(steps))
		ends := make([]int, len(steps))
		var eligible []int64
		var starts time.Duration
		for i, s := range steps {
			sd := &out[i]
			sd.Target, sd.Filter, sd.Wait, sd.StartsAfter = s.Target, s.Filter, s.Wait, starts
			starts += s.Wait
			if i > 0 && !explain {
				ends[i] = len(eligible)
				continue
			}
			for j := range candidates {
				t := &candidates[j]
				why := s.Target.excludes(t)
				if why == 0 && !g.filters[i](&env, t) {
					why = ReasonFilter
				}
				switch {
				case why == 0:
					eligible = append(eligible, t.ID)
				case explain:
					sd.Excluded = append(sd.Excluded, Exclusion{t.ID, why})
				}
			}
			ends[i] = len(eligible)
		}
		from := 0
		for i := range out {
			if i == 0 || explain {
				out[i].Eligible = eligible[from:ends[i]:ends[i]]
			}
			from = ends[i]
		}
		return Decision{Matched: true, RuleID: g.rule.ID, RuleName: g.rule.Name, SessionPriority: g.rule.Then.SessionPriority, Steps: out}
	}
	return Decision{}
}

func BenchmarkRoute(b *testing.B) {
	for _, tc := range []struct {
		name     string
		first    Target
		distinct bool
	}{
		// The case: the first step targets one group of 50, later
		// steps three groups and the whole channel. Route filters 50
		// candidates, Explain 50 + 150 + 1,000.
		{"group-first", Target{Kind: TargetGroup, IDs: []int64{5}}, false},
		// The worst case for Route: the first step targets a channel every
		// technician serves, so its filter decides for all 1,000 (on the
		// VM, most answers come from the cache: see routingFixture).
		{"channel-first", Target{Kind: TargetChannel, IDs: []int64{3}}, false},
		// The same with a filter that the cache cannot answer (no two
		// technicians share the fields it reads).
		{"channel-first-distinct", Target{Kind: TargetChannel, IDs: []int64{3}}, true},
	} {
		f := newRoutingFixture(b, tc.first, tc.distinct)
		var r Router
		for _, explain := range []bool{false, true} {
			name, route := tc.name+"/route", r.Route
			if explain {
				name, route = tc.name+"/explain", r.Explain
			}
			if got, want := route(f.rules, f.env, f.candidates), routeGo(f.goRules, f.env, f.candidates, explain); !sameDecision(got, want) {
				b.Fatalf("%s: expr and Go disagree", name)
			}
			b.Run(name+"/expr", func(b *testing.B) {
				benchP99(b, func() Decision { return route(f.rules, f.env, f.candidates) })
			})
			b.Run(name+"/go", func(b *testing.B) {
				benchP99(b, func() Decision { return routeGo(f.goRules, f.env, f.candidates, explain) })
			})
			if !explain {
				vm := vmRules(f.rules)
				if !sameDecision(route(vm, f.env, f.candidates), route(f.rules, f.env, f.candidates)) {
					b.Fatalf("%s: VM and native disagree", name)
				}
				b.Run(name+"/vm", func(b *testing.B) {
					benchP99(b, func() Decision { return route(vm, f.env, f.candidates) })
				})
			}
			// Both in turn, so that the ratio is measured under the same load.
			b.Run(name+"/ratio", func(b *testing.B) {
				var exprTime, goTime time.Duration
				for b.Loop() {
					start := time.Now()
					route(f.rules, f.env, f.candidates)
					mid := time.Now()
					routeGo(f.goRules, f.env, f.candidates, explain)
					exprTime, goTime = exprTime+mid.Sub(start), goTime+time.Since(mid)
				}
				b.ReportMetric(float64(exprTime.Nanoseconds())/float64(b.N)/1e3, "expr-us")
				b.ReportMetric(float64(goTime.Nanoseconds())/float64(b.N)/1e3, "go-us")
				b.ReportMetric(float64(exprTime)/float64(goTime), "expr/go")
			})
		}
	}
}

// vmRules are rules without native forms or guards: routing them runs every
// expression on the VM.
func vmRules(rules []CompiledRule) []CompiledRule {
	vm := slices.Clone(rules)
	for i := range vm {
		c := &vm[i]
		c.when = vmOnly(c.when)
		c.filters = slices.Clone(c.filters)
		for j, p := range c.filters {
			if p != nil {
				c.filters[j] = vmOnly(p)
			}
		}
	}
	return vm
}

func sameDecision(a, b Decision) bool {
	if a.Matched != b.Matched || a.RuleID != b.RuleID || len(a.Steps) != len(b.Steps) {
		return false
	}
	for i := range a.Steps {
		if !slices.Equal(a.Steps[i].Eligible, b.Steps[i].Eligible) || !slices.Equal(a.Steps[i].Excluded, b.Steps[i].Excluded) {
			return false
		}
	}
	return true
}

// benchP99 times every call and reports the 99th percentile in
// microseconds, of wall time (p99-us) and of the thread's CPU time
// (p99-cpu-us, Linux only): on a machine shared with other work the wall
// percentile mostly measures when the scheduler let us run.
func benchP99(b *testing.B, route func() Decision) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	var wall, cpu []time.Duration
	for b.Loop() {
		start, startCPU := time.Now(), threadCPU()
		d := route()
		cpu = append(cpu, threadCPU()-startCPU)
		wall = append(wall, time.Since(start))
		if !d.Matched {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(percentile(wall, 99), "p99-us")
	b.ReportMetric(percentile(cpu, 99), "p99-cpu-us")
}

func percentile(ds []time.Duration, p int) float64 {
	slices.Sort(ds)
	return float64(ds[(len(ds)-1)*p/100].Nanoseconds()) / 1e3
}
