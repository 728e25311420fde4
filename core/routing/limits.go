package routing

import (
	"fmt"
	"reflect"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// Limits that make every accepted expression cheap to run. expr has no CPU
// limit of its own and its memory budget does not stop nested loops, so the
// validator refuses, before anything is compiled, every shape whose cost is
// not bounded by the size of the expression and MaxListLen.
const (
	// MaxSourceBytes bounds an expression's text.
	MaxSourceBytes = 2000
	// MaxNodes bounds an expression's syntax tree (names, literals,
	// operators, calls). With at most one level of closure over a list of at
	// most MaxListLen (or a literal list, itself made of nodes) an
	// evaluation runs at most MaxNodes*max(MaxListLen, MaxNodes) steps.
	MaxNodes = 200
	// MaxClosureNodes bounds a closure's body ({...}), which runs once per
	// list element: rule closures test an element, they do not compute.
	MaxClosureNodes = 20
	// MaxClosureCost bounds the parts all closures of an expression run
	// together: the sum over closures of the list's bound (MaxListLen for a
	// technician list, the length of a literal list) times the body's parts.
	// any(technician.skills, {hasPrefix(#, "net")}) costs 32*3 = 96.
	MaxClosureCost = 1000
	// MaxPatternBytes, MaxPatternInsts and MaxMatches bound regular
	// expressions: Go's regexp runs in time linear in the input but also in
	// the pattern's program size, and a short pattern such as
	// [a-z]{1,40}[0-9]{1,40} compiles to 161 instructions and takes about
	// 0.3 ms on 256 bytes.
	MaxPatternBytes = 100
	MaxPatternInsts = 30
	MaxMatches      = 3
	// MaxEnvString is the string length the cost bound assumes for the
	// environment (custom fields are at most 64 characters; skills, names
	// and IDs are short). Longer strings do not break evaluation; they make
	// it proportionally slower.
	MaxEnvString = 256
	// MemoryBudget is the VM's allocation budget per evaluation, in the VM's
	// own units (list elements, closure scopes).
	MemoryBudget = 4096
)

// allowedBuiltins are the expr built-ins a rule may call. Each is pure and
// costs at most linear time in its arguments, which are themselves bounded
// by the environment and MaxNodes. Everything else is off: impure ones
// (now, date), ones that build values of any size (repeat, replace, split,
// join, concat, flatten, fromJSON, toPairs...) and those no rule needs.
var allowedBuiltins = map[string]bool{
	"len": true, "abs": true, "ceil": true, "floor": true, "round": true,
	"int": true, "float": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"indexOf": true, "lastIndexOf": true, "hasPrefix": true, "hasSuffix": true,
	"max": true, "min": true, "first": true, "last": true, "get": true,
}

// closureBuiltins are the built-ins that take a closure ({...}) and are
// allowed, each over a bounded list only (see listBound). filter, map,
// sum, find*, groupBy, sortBy and reduce are refused: no rule needs a list
// as a result, and reduce accumulates values of any size.
var closureBuiltins = map[string]bool{"all": true, "any": true, "none": true, "one": true, "count": true}

// whyRefused explains the refused built-ins a rule author is likely to try.
var whyRefused = map[string]string{
	"repeat":     "it builds strings of any size",
	"replace":    "nested calls build strings of any size",
	"split":      "it builds lists of any size; use contains or in",
	"splitAfter": "it builds lists of any size; use contains or in",
	"join":       "it builds strings of any size",
	"now":        "rules are evaluated against the clock in the environment; use clock.*",
	"date":       "rules are evaluated against the clock in the environment; use clock.*",
	"duration":   "waits belong to escalation steps, not to expressions",
	"fromJSON":   "it parses data of any size",
	"toJSON":     "it builds strings of any size",
	"reduce":     "it accumulates values of any size",
	"string":     "it formats whole lists and maps; compare the values themselves",
	"map":        "rules need a yes or no, not a new list; use any, all, none, one or count",
	"filter":     "rules need a yes or no, not a new list; use any, all, none, one or count",
	"sortBy":     "rules need a yes or no, not a new list",
	"groupBy":    "rules need a yes or no, not a new list",
}

// Kind is what an expression is for, which decides its environment.
type Kind string

const (
	// KindPredicate is a rule's `when`: a boolean over Env.
	KindPredicate Kind = "predicate"
	// KindFilter is a step's technician filter: a boolean over FilterEnv.
	KindFilter Kind = "filter"
)

// ExprError is an expression refused by the validator or the compiler, or
// one that failed at run time, with where in the source.
type ExprError struct {
	Message string `json:"message"`
	// Line and Column are 1-based; 0 when the error has no position.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Snippet string `json:"snippet,omitempty"`
}

func (e *ExprError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s (line %d, column %d)", e.Message, e.Line, e.Column)
}

// exprError turns an expr error (or a refusal at loc) into an ExprError
// with line and column computed by expr itself.
func exprError(src string, loc file.Location, msg string) *ExprError {
	fe := (&file.Error{Location: loc, Message: msg}).Bind(file.NewSource(src))
	return fromFileError(fe)
}

func fromFileError(fe *file.Error) *ExprError {
	e := &ExprError{Message: strings.TrimSpace(fe.Message), Snippet: strings.TrimPrefix(fe.Snippet, "\n")}
	if fe.Snippet != "" {
		e.Line, e.Column = fe.Line, fe.Column+1
	}
	return e
}

// Validate parses src and refuses what could be expensive or impure. It does
// not type-check: Compile does that after Validate accepts.
func Validate(src string, kind Kind) error {
	if kind != KindPredicate && kind != KindFilter {
		return fmt.Errorf("routing: unknown expression kind %q", kind)
	}
	if strings.TrimSpace(src) == "" {
		return &ExprError{Message: "the expression is empty"}
	}
	if len(src) > MaxSourceBytes {
		return exprError(src, file.Location{From: utf8.RuneCountInString(src[:MaxSourceBytes])},
			fmt.Sprintf("the expression is %d bytes long; the limit is %d", len(src), MaxSourceBytes))
	}
	tree, err := parser.Parse(src)
	if err != nil {
		if fe, ok := err.(*file.Error); ok {
			return fromFileError(fe.Bind(file.NewSource(src)))
		}
		return &ExprError{Message: err.Error()}
	}
	v := &limitVisitor{}
	ast.Walk(&tree.Node, v)
	if v.nodes > MaxNodes {
		return &ExprError{Message: fmt.Sprintf("the expression has %d parts (names, literals, operators, calls); the limit is %d", v.nodes, MaxNodes)}
	}
	if v.refused != nil {
		return exprError(src, v.refused.Location(), v.why)
	}
	return nil
}

// limitVisitor counts nodes and remembers the first refused one. ast.Walk
// visits children before their parent, so "first" is the innermost.
type limitVisitor struct {
	nodes       int
	matches     int
	closureCost int
	refused     ast.Node
	why         string
}

func (v *limitVisitor) refuse(n ast.Node, format string, args ...any) {
	if v.refused == nil {
		v.refused, v.why = n, fmt.Sprintf(format, args...)
	}
}

func (v *limitVisitor) Visit(node *ast.Node) {
	v.nodes++
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "..":
			v.refuse(n, "ranges (..) are not allowed: they build lists of any size")
		case "matches":
			v.matches++
			if v.matches > MaxMatches {
				v.refuse(n, "at most %d matches per expression", MaxMatches)
			}
			lit, ok := n.Right.(*ast.StringNode)
			if !ok {
				v.refuse(n, "the pattern of matches must be a string literal, checked when the rule is saved")
			} else if why := checkPattern(lit.Value); why != "" {
				v.refuse(n.Right, "%s", why)
			}
		}
	case *ast.VariableDeclaratorNode:
		v.refuse(n, "let is not allowed: variables let an expression double a string at every step")
	case *ast.CallNode:
		v.call(n)
	case *ast.BuiltinNode:
		v.builtin(n)
	}
}

func (v *limitVisitor) call(n *ast.CallNode) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok {
		v.refuse(n, "only the functions listed in docs/routing.md can be called")
		return
	}
	fn, ok := functions[id.Value]
	if !ok {
		if why, refused := whyRefused[id.Value]; refused {
			v.refuse(n, "%s is not allowed: %s", id.Value, why)
			return
		}
		v.refuse(n, "unknown function %s; the functions are listed in docs/routing.md", id.Value)
		return
	}
	if fn.check != nil {
		if why := fn.check(n.Arguments); why != "" {
			v.refuse(n, "%s: %s", id.Value, why)
		}
	}
}

func (v *limitVisitor) builtin(n *ast.BuiltinNode) {
	if allowedBuiltins[n.Name] {
		return
	}
	if !closureBuiltins[n.Name] {
		if why, ok := whyRefused[n.Name]; ok {
			v.refuse(n, "%s is not allowed: %s", n.Name, why)
		} else {
			v.refuse(n, "%s is not allowed in routing rules; the functions are listed in docs/routing.md", n.Name)
		}
		return
	}
	bound := -1
	if len(n.Arguments) > 0 {
		bound = listBound(n.Arguments[0])
	}
	if bound < 0 {
		v.refuse(n, "%s may only go over technician.skills, technician.languages, technician.channel_ids or a literal list such as [\"a\", \"b\"]", n.Name)
		return
	}
	bodyNodes := 1 // count(list) without a body tests each element once
	for _, arg := range n.Arguments {
		body, isBody := arg.(*ast.PredicateNode)
		if isBody {
			arg = body.Node
		}
		f := &closureFinder{}
		ast.Walk(&arg, f)
		switch {
		case f.closure != nil:
			v.refuse(f.closure, "closures cannot be nested: %s inside %s", f.closure.(*ast.BuiltinNode).Name, n.Name)
		case f.matches != nil && isBody:
			v.refuse(f.matches, "matches cannot be used inside a closure: it would run once per element")
		case isBody && f.nodes > MaxClosureNodes:
			v.refuse(body, "the body of %s has %d parts; the limit is %d", n.Name, f.nodes, MaxClosureNodes)
		}
		if isBody {
			bodyNodes = f.nodes
		}
	}
	v.closureCost += bound * bodyNodes
	if v.closureCost > MaxClosureCost {
		v.refuse(n, "the closures run %d parts in all (elements times the parts of each body); the limit is %d", v.closureCost, MaxClosureCost)
	}
}

// checkPattern refuses a regular expression that does not compile or whose
// program is large enough to make matching slow.
func checkPattern(p string) string {
	if len(p) > MaxPatternBytes {
		return fmt.Sprintf("the pattern is %d bytes long; the limit is %d", len(p), MaxPatternBytes)
	}
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return "the pattern is not a regular expression: " + err.Error()
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return "the pattern is not a regular expression: " + err.Error()
	}
	if len(prog.Inst) > MaxPatternInsts {
		return fmt.Sprintf("the pattern is too complex (%d instructions, the limit is %d); avoid large {n,m} repeats", len(prog.Inst), MaxPatternInsts)
	}
	return ""
}

// listBound returns the most elements n can hold, known before the rule
// runs: the length of a literal list (made of parts, so bounded by
// MaxNodes) or MaxListLen for a technician list; -1 for anything else.
func listBound(n ast.Node) int {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return len(n.Nodes)
	case *ast.MemberNode:
		root, ok := n.Node.(*ast.IdentifierNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		if !ok || !ok2 || root.Value != "technician" || n.Optional {
			return -1
		}
		switch prop.Value {
		case "skills", "languages", "channel_ids":
			return MaxListLen
		}
	}
	return -1
}

// closureFinder looks inside a closure's argument for nested closures and
// matches, and counts its nodes.
type closureFinder struct {
	nodes   int
	closure ast.Node
	matches ast.Node
}

func (f *closureFinder) Visit(node *ast.Node) {
	f.nodes++
	// Every closure body belongs to a closure built-in, so looking for the
	// built-ins finds them all.
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		if f.closure == nil && isClosureBuiltin(n.Name) {
			f.closure = n
		}
	case *ast.BinaryNode:
		if f.matches == nil && n.Operator == "matches" {
			f.matches = n
		}
	}
}

// isClosureBuiltin reports whether name is one of expr's built-ins that
// take a closure, allowed or not.
func isClosureBuiltin(name string) bool {
	switch name {
	case "all", "none", "any", "one", "filter", "map", "count", "sum", "find", "findIndex",
		"findLast", "findLastIndex", "groupBy", "sortBy", "reduce":
		return true
	}
	return false
}

// checkTyped refuses what only the types reveal, on the checked tree:
// string concatenation, the one operator that builds a longer string from
// shorter ones (inside a closure, once per element).
func checkTyped(src string, node ast.Node) error {
	f := &concatFinder{}
	ast.Walk(&node, f)
	if f.found != nil {
		return exprError(src, f.found.Location(), "string concatenation (+) is not allowed: rules compare strings, they do not build them")
	}
	return nil
}

type concatFinder struct{ found ast.Node }

func (f *concatFinder) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.BinaryNode); ok && f.found == nil && n.Operator == "+" {
		if t := n.Type(); t != nil && t.Kind() == reflect.String {
			f.found = n
		}
	}
}
