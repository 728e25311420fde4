package routing

import (
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Native evaluation.
//
// Most rules are comparisons, membership tests and boolean logic over the
// environment's fields: technician.status == "online", "scanners" in
// technician.skills, technician.active_sessions < 2. For those the VM's
// fixed cost (starting a run, reading each field through reflection,
// boxing every intermediate value) is several times the work itself, and a
// routing call runs a step's filter for every candidate in its target: a
// thousand VM runs when the first step targets a large channel. So, once
// expr has parsed, type-checked and compiled an expression and the
// validator has accepted it, an expression made only of the operations
// below is also compiled into Go closures, which give the VM's answer at
// close to the cost of the same test written in Go (and allocate nothing).
//
// The subset is operations that cannot fail at run time and allocate
// nothing, each with the meaning expr gives it:
//   - literals: strings, integers (and their negation), booleans, hm("HH:MM");
//   - the string, integer and boolean fields of session, clock, queue and
//     technician, session.fields[s] ("" when the field is missing), and
//     technician.skills, .languages and .channel_ids on the right of `in`;
//   - == and != on two strings, two integers or two booleans; <, <=, >
//     and >= on two integers or two strings; contains, startsWith and
//     endsWith on two strings;
//   - `in` of a string in skills, languages or a list of strings, and of an
//     integer in channel_ids or a list of integers;
//   - !, not, &&, and, ||, or.
//
// Anything else (arithmetic, floats, indexing, closures, other function
// calls, ?. and ??, matches, conditionals) is left to the VM. When only the
// leading operands of an expression's top-level && are in the subset, they
// become its guard: a false guard is the expression's answer, false, since
// && stops at its first false operand and the operands before it cannot
// fail; otherwise the VM evaluates the whole expression. No limit is
// given up: the validator still decides what is accepted, the VM (with its
// memory budget) still runs everything outside the subset, and a native
// evaluation allocates nothing and costs in proportion to the expression's
// size and the lengths of the lists (MaxListLen) and strings it reads.
// TestNativeAgreesWithVM and the fuzz test hold the
// closures to the VM's answers.

// nativeBool evaluates an expression for env and the candidate t (nil for
// a predicate, which cannot name technician).
type nativeBool func(env nativeEnv, t *TechnicianEnv) bool

// nativeEnv is the environment of native evaluation, passed by value: three
// pointers, which Program.Match points into its caller's Env without
// copying or allocating.
type nativeEnv struct {
	session *SessionEnv
	clock   *ClockEnv
	queue   *QueueEnv
}

type (
	nativeString func(env nativeEnv, t *TechnicianEnv) string
	nativeInt    func(env nativeEnv, t *TechnicianEnv) int64
)

// compileNative returns the native form of the type-checked tree, or nil
// if the expression is not in the subset, and, when it is not, the guard
// made of its leading top-level && operands that are (nil if none is).
// technician says whether the expression may read the candidate.
func compileNative(tree ast.Node, technician bool) (whole, guard nativeBool) {
	c := nativeCompiler{technician: technician}
	if whole = c.boolean(tree); whole != nil {
		return whole, nil
	}
	var leading []ast.Node
	for _, n := range conjuncts(tree) {
		if c.boolean(n) == nil {
			break
		}
		leading = append(leading, n)
	}
	switch len(leading) {
	case 0:
		return nil, nil
	case 1:
		return nil, c.boolean(leading[0])
	}
	return nil, c.allOf(leading)
}

// conjuncts are the operands of n's top-level &&, in evaluation order.
func conjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

// disjuncts are the operands of n's top-level ||, in evaluation order.
func disjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "||" || b.Operator == "or") {
		return append(disjuncts(b.Left), disjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

// allOf is a chain of &&: one closure for the chain rather than one per
// operator, which is most of the cost of a typical filter.
func (c nativeCompiler) allOf(nodes []ast.Node) nativeBool {
	fs, ok := c.booleans(nodes)
	switch {
	case !ok:
		return nil
	case len(fs) == 2:
		a, b := fs[0], fs[1]
		return func(e nativeEnv, t *TechnicianEnv) bool { return a(e, t) && b(e, t) }
	case len(fs) == 3:
		a, b, d := fs[0], fs[1], fs[2]
		return func(e nativeEnv, t *TechnicianEnv) bool { return a(e, t) && b(e, t) && d(e, t) }
	}
	return func(e nativeEnv, t *TechnicianEnv) bool {
		for _, f := range fs {
			if !f(e, t) {
				return false
			}
		}
		return true
	}
}

// anyOf is a chain of ||, as allOf is of &&.
func (c nativeCompiler) anyOf(nodes []ast.Node) nativeBool {
	fs, ok := c.booleans(nodes)
	switch {
	case !ok:
		return nil
	case len(fs) == 2:
		a, b := fs[0], fs[1]
		return func(e nativeEnv, t *TechnicianEnv) bool { return a(e, t) || b(e, t) }
	case len(fs) == 3:
		a, b, d := fs[0], fs[1], fs[2]
		return func(e nativeEnv, t *TechnicianEnv) bool { return a(e, t) || b(e, t) || d(e, t) }
	}
	return func(e nativeEnv, t *TechnicianEnv) bool {
		for _, f := range fs {
			if f(e, t) {
				return true
			}
		}
		return false
	}
}

func (c nativeCompiler) booleans(nodes []ast.Node) ([]nativeBool, bool) {
	fs := make([]nativeBool, len(nodes))
	for i, n := range nodes {
		if fs[i] = c.boolean(n); fs[i] == nil {
			return nil, false
		}
	}
	return fs, true
}

type nativeCompiler struct{ technician bool }

var (
	intType   = reflect.TypeFor[int]()
	int64Type = reflect.TypeFor[int64]()
	boolType  = reflect.TypeFor[bool]()
)

func isString(n ast.Node) bool { return n.Type() == stringType }
func isInt(n ast.Node) bool    { t := n.Type(); return t == intType || t == int64Type }
func isBool(n ast.Node) bool   { return n.Type() == boolType }

func (c nativeCompiler) boolean(n ast.Node) nativeBool {
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(nativeEnv, *TechnicianEnv) bool { return v }
	case *ast.MemberNode:
		if f, ok := c.field(n).(boolField); ok && isBool(n) {
			return f
		}
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			if x := c.boolean(n.Node); x != nil {
				return func(e nativeEnv, t *TechnicianEnv) bool { return !x(e, t) }
			}
		}
	case *ast.BinaryNode:
		return c.binary(n)
	}
	return nil
}

func (c nativeCompiler) binary(n *ast.BinaryNode) nativeBool {
	switch n.Operator {
	case "&&", "and":
		return c.allOf(conjuncts(n))
	case "||", "or":
		return c.anyOf(disjuncts(n))
	case "in":
		return c.in(n.Left, n.Right)
	}
	switch {
	case isString(n.Left) && isString(n.Right):
		if lit, ok := n.Right.(*ast.StringNode); ok {
			return compareToLiteral(n.Operator, c.str(n.Left), lit.Value)
		}
		return compareStrings(n.Operator, c.str(n.Left), c.str(n.Right))
	case isInt(n.Left) && isInt(n.Right):
		if v, ok := intLiteral(n.Right); ok {
			return compareToInt(n.Operator, c.integer(n.Left), v)
		}
		return compareInts(n.Operator, c.integer(n.Left), c.integer(n.Right))
	case isBool(n.Left) && isBool(n.Right) && (n.Operator == "==" || n.Operator == "!="):
		l, r := c.boolean(n.Left), c.boolean(n.Right)
		if l == nil || r == nil {
			return nil
		}
		if n.Operator == "==" {
			return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) == r(e, t) }
		}
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) != r(e, t) }
	}
	return nil
}

func compareStrings(op string, l, r nativeString) nativeBool {
	if l == nil || r == nil {
		return nil
	}
	var cmp func(a, b string) bool
	switch op {
	case "==":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) == r(e, t) }
	case "!=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) != r(e, t) }
	case "<":
		cmp = func(a, b string) bool { return a < b }
	case "<=":
		cmp = func(a, b string) bool { return a <= b }
	case ">":
		cmp = func(a, b string) bool { return a > b }
	case ">=":
		cmp = func(a, b string) bool { return a >= b }
	case "contains":
		cmp = strings.Contains
	case "startsWith":
		cmp = strings.HasPrefix
	case "endsWith":
		cmp = strings.HasSuffix
	default:
		return nil
	}
	return func(e nativeEnv, t *TechnicianEnv) bool { return cmp(l(e, t), r(e, t)) }
}

// compareToLiteral is the usual shape, a string against a literal, without
// a closure for the literal.
func compareToLiteral(op string, l nativeString, lit string) nativeBool {
	switch {
	case l == nil:
		return nil
	case op == "==":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) == lit }
	case op == "!=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) != lit }
	}
	return compareStrings(op, l, func(nativeEnv, *TechnicianEnv) string { return lit })
}

// intLiteral says whether n is an integer literal, negated or not, and
// its value.
func intLiteral(n ast.Node) (int64, bool) {
	switch n := n.(type) {
	case *ast.IntegerNode:
		return int64(n.Value), true
	case *ast.UnaryNode:
		if v, ok := intLiteral(n.Node); ok && n.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}

// compareToInt is compareInts against a literal, without a closure for it.
func compareToInt(op string, l nativeInt, v int64) nativeBool {
	if l == nil {
		return nil
	}
	switch op {
	case "==":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) == v }
	case "!=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) != v }
	case "<":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) < v }
	case "<=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) <= v }
	case ">":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) > v }
	case ">=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) >= v }
	}
	return nil
}

func compareInts(op string, l, r nativeInt) nativeBool {
	if l == nil || r == nil {
		return nil
	}
	switch op {
	case "==":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) == r(e, t) }
	case "!=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) != r(e, t) }
	case "<":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) < r(e, t) }
	case "<=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) <= r(e, t) }
	case ">":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) > r(e, t) }
	case ">=":
		return func(e nativeEnv, t *TechnicianEnv) bool { return l(e, t) >= r(e, t) }
	}
	return nil
}

// in is `needle in list` for the lists of the subset.
func (c nativeCompiler) in(needle, list ast.Node) nativeBool {
	if arr, ok := list.(*ast.ArrayNode); ok {
		return c.inLiteral(needle, arr)
	}
	m, ok := list.(*ast.MemberNode)
	if !ok {
		return nil
	}
	switch f := c.field(m).(type) {
	case stringsField:
		if !isString(needle) {
			return nil
		}
		if lit, ok := needle.(*ast.StringNode); ok {
			v := lit.Value
			return func(_ nativeEnv, t *TechnicianEnv) bool { return contains(f(t), v) }
		}
		s := c.str(needle)
		if s == nil {
			return nil
		}
		return func(e nativeEnv, t *TechnicianEnv) bool { return contains(f(t), s(e, t)) }
	case idsField:
		if !isInt(needle) {
			return nil
		}
		v := c.integer(needle)
		if v == nil {
			return nil
		}
		return func(e nativeEnv, t *TechnicianEnv) bool {
			x := v(e, t)
			for _, id := range f(t) {
				if id == x {
					return true
				}
			}
			return false
		}
	}
	return nil
}

// inLiteral is `needle in [a, b, ...]`, every element of the needle's kind.
func (c nativeCompiler) inLiteral(needle ast.Node, arr *ast.ArrayNode) nativeBool {
	switch {
	case isString(needle):
		s := c.str(needle)
		elems := make([]nativeString, len(arr.Nodes))
		for i, n := range arr.Nodes {
			if elems[i] = c.str(n); elems[i] == nil {
				return nil
			}
		}
		switch {
		case s == nil:
			return nil
		case allLiterals[*ast.StringNode](arr.Nodes):
			lits := make([]string, len(arr.Nodes))
			for i, n := range arr.Nodes {
				lits[i] = n.(*ast.StringNode).Value
			}
			return func(e nativeEnv, t *TechnicianEnv) bool { return contains(lits, s(e, t)) }
		}
		return func(e nativeEnv, t *TechnicianEnv) bool {
			x := s(e, t)
			for _, el := range elems {
				if el(e, t) == x {
					return true
				}
			}
			return false
		}
	case isInt(needle):
		v := c.integer(needle)
		elems := make([]nativeInt, len(arr.Nodes))
		for i, n := range arr.Nodes {
			if elems[i] = c.integer(n); elems[i] == nil {
				return nil
			}
		}
		if v == nil {
			return nil
		}
		return func(e nativeEnv, t *TechnicianEnv) bool {
			x := v(e, t)
			for _, el := range elems {
				if el(e, t) == x {
					return true
				}
			}
			return false
		}
	}
	return nil
}

func allLiterals[T ast.Node](nodes []ast.Node) bool {
	for _, n := range nodes {
		if _, ok := n.(T); !ok {
			return false
		}
	}
	return true
}

func (c nativeCompiler) str(n ast.Node) nativeString {
	if !isString(n) {
		return nil
	}
	switch n := n.(type) {
	case *ast.StringNode:
		v := n.Value
		return func(nativeEnv, *TechnicianEnv) string { return v }
	case *ast.MemberNode:
		if f, ok := c.field(n).(stringField); ok {
			return f
		}
	}
	return nil
}

func (c nativeCompiler) integer(n ast.Node) nativeInt {
	if !isInt(n) {
		return nil
	}
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := int64(n.Value)
		return func(nativeEnv, *TechnicianEnv) int64 { return v }
	case *ast.UnaryNode:
		if n.Operator == "-" {
			if x := c.integer(n.Node); x != nil {
				return func(e nativeEnv, t *TechnicianEnv) int64 { return -x(e, t) }
			}
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == "hm" && len(n.Arguments) == 1 {
			if lit, ok := n.Arguments[0].(*ast.StringNode); ok {
				if m, err := parseHM(lit.Value); err == nil {
					v := int64(m)
					return func(nativeEnv, *TechnicianEnv) int64 { return v }
				}
			}
		}
	case *ast.MemberNode:
		if f, ok := c.field(n).(intField); ok {
			return f
		}
	}
	return nil
}

// field returns the accessor of a field of the subset, typed by what it
// returns (see fieldAccessors), or nil.
func (c nativeCompiler) field(m *ast.MemberNode) any {
	prop, ok := m.Property.(*ast.StringNode)
	if m.Method {
		return nil
	}
	switch root := m.Node.(type) {
	case *ast.IdentifierNode:
		if !ok || root.Value == "technician" && !c.technician {
			return nil
		}
		return fieldAccessors[root.Value+"."+prop.Value]
	case *ast.MemberNode:
		// session.fields[key]: "" when the field is missing, as in expr.
		if id, isID := root.Node.(*ast.IdentifierNode); !isID || id.Value != "session" || root.Method {
			return nil
		}
		if p, isStr := root.Property.(*ast.StringNode); !isStr || p.Value != "fields" || !isString(m.Property) {
			return nil
		}
		key := c.str(m.Property)
		if key == nil {
			return nil
		}
		return func(e nativeEnv, t *TechnicianEnv) string { return e.session.Fields[key(e, t)] }
	}
	return nil
}

type (
	stringField  = func(nativeEnv, *TechnicianEnv) string
	intField     = func(nativeEnv, *TechnicianEnv) int64
	boolField    = func(nativeEnv, *TechnicianEnv) bool
	stringsField = func(*TechnicianEnv) []string
	idsField     = func(*TechnicianEnv) []int64
)

// fieldAccessors are the fields of the subset by their expr names.
// TestNativeFields checks that every string, integer and boolean field of
// the environment is here, with the right accessor.
var fieldAccessors = map[string]any{
	"session.kind":            stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.Kind }),
	"session.channel_id":      intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return e.session.ChannelID }),
	"session.channel_name":    stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.ChannelName }),
	"session.group_id":        intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return e.session.GroupID }),
	"session.cfield0":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField0 }),
	"session.cfield1":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField1 }),
	"session.cfield2":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField2 }),
	"session.cfield3":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField3 }),
	"session.cfield4":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField4 }),
	"session.cfield5":         stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CField5 }),
	"session.tracking_id":     stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.TrackingID }),
	"session.platform":        stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.Platform }),
	"session.language":        stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.Language }),
	"session.client_kind":     stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.ClientKind }),
	"session.calling_card":    stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.session.CallingCard }),
	"session.waiting_seconds": intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.session.WaitingSeconds) }),
	"session.transfer_count":  intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.session.TransferCount) }),

	"clock.weekday":          stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.clock.Weekday }),
	"clock.hour":             intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.clock.Hour) }),
	"clock.minute":           intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.clock.Minute) }),
	"clock.minute_of_day":    intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.clock.MinuteOfDay) }),
	"clock.date":             stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.clock.Date }),
	"clock.time_zone":        stringField(func(e nativeEnv, _ *TechnicianEnv) string { return e.clock.TimeZone }),
	"clock.in_working_hours": boolField(func(e nativeEnv, _ *TechnicianEnv) bool { return e.clock.InWorkingHours }),

	"queue.waiting":         intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.queue.Waiting) }),
	"queue.available_total": intField(func(e nativeEnv, _ *TechnicianEnv) int64 { return int64(e.queue.AvailableTotal) }),

	"technician.id":              intField(func(_ nativeEnv, t *TechnicianEnv) int64 { return t.ID }),
	"technician.name":            stringField(func(_ nativeEnv, t *TechnicianEnv) string { return t.Name }),
	"technician.group_id":        intField(func(_ nativeEnv, t *TechnicianEnv) int64 { return t.GroupID }),
	"technician.channel_ids":     idsField(func(t *TechnicianEnv) []int64 { return t.ChannelIDs }),
	"technician.skills":          stringsField(func(t *TechnicianEnv) []string { return t.Skills }),
	"technician.languages":       stringsField(func(t *TechnicianEnv) []string { return t.Languages }),
	"technician.status":          stringField(func(_ nativeEnv, t *TechnicianEnv) string { return t.Status }),
	"technician.active_sessions": intField(func(_ nativeEnv, t *TechnicianEnv) int64 { return int64(t.ActiveSessions) }),
	"technician.idle_seconds":    intField(func(_ nativeEnv, t *TechnicianEnv) int64 { return int64(t.IdleSeconds) }),
}
