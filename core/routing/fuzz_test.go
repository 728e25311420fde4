package routing

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// evalBound is the stated cost bound: any expression the validator and
// compiler accept evaluates in under a millisecond against an environment
// whose strings are at most MaxEnvString bytes and whose lists are at most
// MaxListLen long. Typical rules take well under a microsecond.
const evalBound = time.Millisecond

// hostileEnvs returns a predicate and a filter environment at the limits the
// bound assumes: every string MaxEnvString bytes, every list MaxListLen long.
func hostileEnvs() (*Env, *FilterEnv) {
	s := func(c string) string { return strings.Repeat(c, MaxEnvString) }
	list := func(prefix string) []string {
		l := make([]string, MaxListLen)
		for i := range l {
			l[i] = (prefix + fmt.Sprint(i) + s("x"))[:MaxEnvString]
		}
		return l
	}
	ids := make([]int64, MaxListLen)
	avail := map[int]int{}
	for i := range ids {
		ids[i] = int64(i + 1)
		avail[i+1] = i
	}
	env := Env{
		Session: SessionEnv{Kind: SessionChannel, ChannelID: 3, ChannelName: s("c"), Fields: map[string]string{
			"Name": s("a"), "Product": s("b"), "Contract": s("c"), "Region": s("d"), "Serial": s("e"), "Notes": s("f")},
			CField0: s("a"), CField1: s("ab"), CField2: s("0"), CField3: s("9"), CField4: s(" "), CField5: s("é"),
			TrackingID: s("t"), Platform: s("p"), Language: s("l"), ClientKind: s("k"), CallingCard: s("k"),
			WaitingSeconds: 1 << 40, TransferCount: 0},
		Clock: ClockEnv{Weekday: "mon", Hour: 23, Minute: 59, MinuteOfDay: 1439, Date: "2026-12-31", TimeZone: s("z"), InWorkingHours: true},
		Queue: QueueEnv{Waiting: 1 << 20, Available: avail, AvailableTotal: 1 << 20},
	}
	fenv := FilterEnv{Session: env.Session, Clock: env.Clock, Queue: env.Queue, Technician: TechnicianEnv{
		ID: 1, Name: s("n"), GroupID: 2, ChannelIDs: ids, Skills: list("skill"), Languages: list("lang"),
		Status: "online", ActiveSessions: 3, IdleSeconds: 1 << 30}}
	return &env, &fenv
}

// evalMin evaluates p up to five times and returns the cheapest run, in
// the thread's CPU time where the platform tells it (wall time otherwise),
// so that a moment without the CPU on a shared machine is not taken for a
// slow expression. It stops at the first run within the bound.
func evalMin(p *Program, env *Env, fenv *FilterEnv) (time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Duration(1<<63 - 1)
	var err error
	for range 5 {
		start, startCPU := time.Now(), threadCPU()
		if p.Kind() == KindPredicate {
			_, err = p.Match(env)
		} else {
			_, err = p.Accept(fenv)
		}
		took := threadCPU() - startCPU
		if startCPU == 0 {
			took = time.Since(start)
		}
		best = min(best, took)
		if best < evalBound {
			break
		}
	}
	return best, err
}

// hostileSeeds are shapes an attacker (or an unlucky admin) would try.
var hostileSeeds = []string{
	`all(1..1000, {all(1..1000, {true})})`,
	`any(1..1000000, {true})`,
	strings.Repeat("(", 1000) + "true" + strings.Repeat(")", 1000),
	strings.Repeat("!", 1999) + "true",
	strings.Repeat("[", 600) + strings.Repeat("]", 600) + ` == nil`,
	`session.cfield0 == "` + strings.Repeat("x", 1990) + `"`,
	`repeat("x", 1000000000) == ""`,
	`repeat(repeat(session.cfield0, 1000), 1000) == ""`,
	`let a = session.cfield0 + session.cfield0; let b = a + a; let c = b + b; let d = c + c; d == ""`,
	`any(technician.skills, {any(technician.skills, {any(technician.skills, {true})})})`,
	`any(technician.skills, {# + # + # + # + # + # + # + # + # + # == ""})`,
	`count(technician.skills, {upper(#) == upper(session.cfield0)}) > 0`,
	`reduce(technician.skills, {#acc + #acc}, "x") == ""`,
	`replace(replace(replace(session.cfield0, "", session.cfield0), "", session.cfield0), "", "x") == ""`,
	`session.cfield1 matches "(a+)+$"`,
	`session.cfield1 matches "(((a{100}){100}){100})"`,
	`session.cfield1 matches session.cfield0`,
	`fromJSON("` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `") != nil`,
	`toJSON($env) != ""`,
	`string($env) != ""`,
	`$env.session.cfield0 == ""`,
	`len(split(session.cfield0, "")) > 0`,
	`technician.skills[100] == ""`,
	`technician.skills[-1] == ""`,
	`1 % session.transfer_count == 0`,
	`int(session.cfield0) > 0`,
	`session.waiting_seconds * session.waiting_seconds * session.waiting_seconds > 0`,
	`2 ** 1000000 > 1`,
	`max(technician.skills) == ""`,
	`first(technician.channel_ids) == 1 && last(technician.skills) != ""`,
	`get(queue.available, 3) > 0 && queue.available[99999] == 0`,
	`sortBy(technician.skills, {#}) == nil`,
	`now() > date("2020-01-01")`,
	`typicalPredicate`,
	typicalPredicate,
	`"printers" in technician.skills && technician.status == "online"`,
	`clock.minute_of_day >= hm("08:30") && clock.minute_of_day < hm("17:00")`,
	`session.fields?.Product ?? "" == ""`,
	`if session.kind == "private" { true } else { false }`,
	`session.kind == "private" ? session.group_id == 7 : session.channel_id in [1, 2, 3]`,
	"\x00\xff",
	`"\u0000" == session.cfield5`,
}

func FuzzRuleExpression(f *testing.F) {
	for _, s := range hostileSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	for _, s := range worstCaseExpressions() {
		f.Add(s, true)
	}
	env, fenv := hostileEnvs()
	f.Fuzz(func(t *testing.T, src string, asFilter bool) {
		kind := KindPredicate
		if asFilter {
			kind = KindFilter
		}
		// Random bytes rarely make a valid expression, so the same bytes
		// also drive a generator of well-formed ones.
		checkExpression(t, src, kind, env, fenv)
		checkExpression(t, generateExpression(src), KindFilter, env, fenv)
	})
}

func checkExpression(t *testing.T, src string, kind Kind, env *Env, fenv *FilterEnv) {
	// A watchdog, so that a hang is reported with its input rather than
	// stalling the fuzzer.
	done := make(chan fuzzOutcome, 1)
	go func() { done <- fuzzOnce(src, kind, env, fenv) }()
	var out fuzzOutcome
	select {
	case out = <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%q (%s) hung", src, kind)
	}
	switch {
	case out.compileErr != nil:
		var ee *ExprError
		if !errors.As(out.compileErr, &ee) {
			t.Fatalf("compile(%q) = %T %v, want an *ExprError", src, out.compileErr, out.compileErr)
		}
	case len(src) > MaxSourceBytes:
		t.Fatalf("accepted %d bytes", len(src))
	case errors.Is(out.evalErr, ErrPanic):
		t.Fatalf("%q panicked: %v", src, out.evalErr)
	case out.took > evalBound && !raceEnabled:
		t.Fatalf("%q took %v, over the bound of %v", src, out.took, evalBound)
	case out.nativeDiffers != "":
		t.Fatalf("%q (%s): %s", src, kind, out.nativeDiffers)
	}
}

type fuzzOutcome struct {
	compileErr, evalErr error
	took                time.Duration
	// nativeDiffers says how the native form or guard disagrees with the
	// VM (see checkNative), "" if it does not.
	nativeDiffers string
}

func fuzzOnce(src string, kind Kind, env *Env, fenv *FilterEnv) fuzzOutcome {
	// compile, not Compile: the cache would only grow.
	p, err := compile(src, kind)
	if err != nil {
		return fuzzOutcome{compileErr: err}
	}
	took, err := evalMin(p, env, fenv)
	out := fuzzOutcome{evalErr: err, took: took, nativeDiffers: checkNative(p, env, fenv)}
	if out.nativeDiffers == "" && kind == KindFilter {
		// An ordinary candidate too: the hostile one's long values equal
		// none of the generator's literals.
		ordinary := *fenv
		ordinary.Technician = TechnicianEnv{ID: 3, Name: "x", GroupID: 3, ChannelIDs: []int64{1, 3}, Skills: []string{"skill1", "printers", ""},
			Languages: []string{"fr"}, Status: "online", ActiveSessions: 1, IdleSeconds: 2}
		out.nativeDiffers = checkNative(p, env, &ordinary)
	}
	return out
}

// worstCaseExpressions are accepted expressions built to cost as much as
// the limits allow: closures filling MaxClosureCost with bodies of string
// scanning and allocating calls over the longest lists, long literal lists,
// and the most complex regular expressions.
func worstCaseExpressions() []string {
	lit := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%q", fmt.Sprint(i))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	// Bodies that scan or copy 256-byte strings and never short-circuit.
	body20 := `{indexOf(session.cfield0, #) > 0 || upper(#) == lower(session.cfield2) || trim(#) == ""}`
	body15 := `{indexOf(session.cfield0, #) > 0 || upper(#) == lower(session.cfield2)}`
	fill := func(body string) string {
		closures := "any(technician.skills, " + body + ")"
		for _, list := range []string{"technician.languages", "technician.skills", "technician.languages"} {
			more := closures + " || any(" + list + ", " + body + ")"
			if Validate(more, KindFilter) != nil {
				break
			}
			closures = more
		}
		return closures
	}
	// The largest pattern of this shape the limits accept.
	pattern := ""
	for n := 1; n < 40; n++ {
		p := fmt.Sprintf("[a-z]{1,%d}[0-9]{1,%d}x", n, n)
		if checkPattern(p) != "" {
			break
		}
		pattern = p
	}
	regexp := `session.cfield1 matches "` + pattern + `"`
	return []string{
		fill(body20),
		fill(body15),
		// 50 elements times a body of 20 parts is the whole closure budget.
		`any(` + lit(50) + `, {indexOf(session.cfield0, #) > 0 || upper(session.cfield1) == # || trimPrefix(#, "x") != #})`,
		`has_all(technician.skills, ` + lit(190) + `)`,
		`has_any(technician.languages, ` + lit(190) + `)`,
		`session.cfield1 in ` + lit(195),
		strings.Join([]string{regexp, regexp, regexp}, " || "),
		// Everything at once: the closure budget and three patterns.
		fill(body15) + " || " + strings.Join([]string{regexp, regexp, regexp}, " || "),
		`count(technician.skills, {# in technician.languages || # in technician.skills}) > 0 && count(technician.languages, {# in technician.skills}) > 0`,
	}
}

func nodeCount(src string) int {
	tree, err := parser.Parse(src)
	if err != nil {
		return 0
	}
	v := &limitVisitor{}
	ast.Walk(&tree.Node, v)
	return v.nodes
}

func TestWorstCaseExpressionsStayWithinTheBound(t *testing.T) {
	env, fenv := hostileEnvs()
	for _, src := range worstCaseExpressions() {
		p, err := Compile(src, KindFilter)
		if err != nil {
			t.Errorf("worst case refused, so it is not a worst case: %.80q: %v", src, err)
			continue
		}
		took, err := evalMin(p, env, fenv)
		if err != nil {
			t.Errorf("%.80q: %v", src, err)
		}
		if took > evalBound && !raceEnabled {
			t.Errorf("%.80q took %v, over %v", src, took, evalBound)
		}
		t.Logf("%6.1f µs  %3d nodes  %.60s", float64(took.Nanoseconds())/1e3, nodeCount(src), src)
	}
}

// generateExpression turns fuzz bytes into a well-formed expression over the
// filter environment, hostile shapes included, so that the fuzzer explores
// accepted expressions and not only syntax errors.
func generateExpression(seed string) string {
	g := &generator{in: []byte(seed)}
	return g.boolean(0)
}

type generator struct {
	in        []byte
	pos       int
	inClosure bool
}

func (g *generator) next() int {
	if g.pos >= len(g.in) {
		return 0
	}
	g.pos++
	return int(g.in[g.pos-1])
}

func (g *generator) pick(options ...string) string { return options[g.next()%len(options)] }

func (g *generator) boolean(depth int) string {
	if depth > 6 {
		return g.pick("true", "false", "clock.in_working_hours")
	}
	switch g.next() % 15 {
	case 0:
		return g.pick("true", "false", "clock.in_working_hours")
	case 1:
		return g.number(depth+1) + g.pick(" == ", " != ", " < ", " <= ", " > ", " >= ") + g.number(depth+1)
	case 2:
		return g.str(depth+1) + g.pick(" == ", " != ", " contains ", " startsWith ", " endsWith ", " < ") + g.str(depth+1)
	case 3:
		return "(" + g.boolean(depth+1) + " && " + g.boolean(depth+1) + ")"
	case 4:
		return "(" + g.boolean(depth+1) + " || " + g.boolean(depth+1) + ")"
	case 5:
		return "!(" + g.boolean(depth+1) + ")"
	case 6, 7:
		if g.inClosure && g.next()%4 != 0 {
			return g.str(depth+1) + " == #"
		}
		was := g.inClosure
		g.inClosure = true
		body := g.boolean(depth + 1)
		g.inClosure = was
		fn := g.pick("any", "all", "none", "one")
		if g.next()%5 == 0 {
			return "count(" + g.list() + ", {" + body + "}) > " + fmt.Sprint(g.next()%4)
		}
		return fn + "(" + g.list() + ", {" + body + "})"
	case 8:
		return g.str(depth+1) + g.pick(" in ", " not in ") + g.list()
	case 9:
		return g.pick("has_any", "has_all") + "(" + g.pick("technician.skills", "technician.languages") + ", " + g.literalList() + ")"
	case 10:
		return g.str(depth+1) + " matches " + g.pick(`"^SF-[0-9]+$"`, `"(a+)+$"`, `"[a-z]{1,10}x"`, `"a{2000}"`, `"(x|y|z)*"`, `"("`)
	case 11:
		return "(" + g.boolean(depth+1) + " ? " + g.boolean(depth+1) + " : " + g.boolean(depth+1) + ")"
	case 12:
		return g.number(depth+1) + " in [1, 2, 3, " + g.number(depth+1) + "]"
	case 13:
		return "equal_fold(" + g.str(depth+1) + ", " + g.str(depth+1) + ")"
	default:
		return g.pick(`all(1..1000, {all(1..1000, {true})})`, `repeat("x", 100000) == ""`,
			`len(split(session.cfield0, "")) > 3`, `let x = session.cfield0; x == ""`,
			`technician.skills[40] == ""`, `reduce(technician.skills, {#acc}, "") == ""`,
			`session.cfield0 + session.cfield1 == ""`, `string(technician.skills) == ""`)
	}
}

func (g *generator) str(depth int) string {
	if depth > 6 {
		return `"x"`
	}
	switch g.next() % 7 {
	case 0:
		return g.pick("session.cfield0", "session.cfield1", `session.fields["Product"]`, `session.fields["nope"]`,
			"session.language", "session.tracking_id", "technician.name", "technician.status", "clock.weekday", "clock.date")
	case 1:
		return g.pick(`"x"`, `""`, `"printers"`, `"fr"`, `"é"`, `"\u0000"`)
	case 2:
		return g.pick("upper", "lower", "trim") + "(" + g.str(depth+1) + ")"
	case 3:
		return g.pick("trimPrefix", "trimSuffix") + "(" + g.str(depth+1) + ", " + g.str(depth+1) + ")"
	case 4:
		if g.inClosure {
			return "#"
		}
		return g.pick("first(technician.skills)", "last(technician.languages)", `get(session.fields, "Name")`)
	case 5:
		return g.list() + "[" + g.number(depth+1) + "]"
	default:
		return g.pick("technician.skills", "technician.languages") + "[0]"
	}
}

func (g *generator) number(depth int) string {
	if depth > 6 {
		return "1"
	}
	switch g.next() % 8 {
	case 0:
		return g.pick("session.waiting_seconds", "session.transfer_count", "queue.waiting", "queue.available_total",
			"clock.hour", "clock.minute_of_day", "technician.active_sessions", "technician.idle_seconds", "session.channel_id")
	case 1:
		return fmt.Sprint(g.next() - 128)
	case 2:
		return "len(" + g.str(depth+1) + ")"
	case 3:
		return "(" + g.number(depth+1) + g.pick(" + ", " - ", " * ", " / ", " % ", " ** ") + g.number(depth+1) + ")"
	case 4:
		return "queue.available[" + g.number(depth+1) + "]"
	case 5:
		return `hm("` + g.pick("08:30", "24:00", "25:00", "7:00") + `")`
	case 6:
		return g.pick("abs", "ceil", "floor", "round", "int") + "(" + g.number(depth+1) + ")"
	default:
		return "indexOf(" + g.str(depth+1) + ", " + g.str(depth+1) + ")"
	}
}

func (g *generator) list() string {
	return g.pick("technician.skills", "technician.languages", g.literalList(), "technician.channel_ids", "session.fields")
}

func (g *generator) literalList() string {
	n := g.next() % 6
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%q", fmt.Sprint("skill", g.next()%40))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
