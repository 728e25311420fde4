package routing

import (
	"fmt"
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
	"int": true, "float": true, "string": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"indexOf": true, "lastIndexOf": true, "hasPrefix": true, "hasSuffix": true,
	"max": true, "min": true, "first": true, "last": true, "get": true,
}

// closureBuiltins are the built-ins that take a closure ({...}) and are
// allowed, each over a bounded list only (see boundedList). filter, map,
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
	nodes   int
	refused ast.Node
	why     string
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
			if _, ok := n.Right.(*ast.StringNode); !ok {
				v.refuse(n, "the pattern of matches must be a string literal, checked when the rule is saved")
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
	if len(n.Arguments) == 0 || !boundedList(n.Arguments[0]) {
		v.refuse(n, "%s may only go over technician.skills, technician.languages, technician.channel_ids or a literal list such as [\"a\", \"b\"]", n.Name)
		return
	}
	for _, arg := range n.Arguments {
		if body, ok := arg.(*ast.PredicateNode); ok {
			arg = body.Node
		}
		if inner := findClosure(arg); inner != nil {
			v.refuse(inner, "closures cannot be nested: %s inside %s", inner.(*ast.BuiltinNode).Name, n.Name)
			return
		}
	}
}

// boundedList reports whether n is a list whose length is bounded before
// the rule runs: a literal list (bounded by MaxNodes) or a technician list
// (bounded by MaxListLen).
func boundedList(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.ArrayNode:
		return true
	case *ast.MemberNode:
		root, ok := n.Node.(*ast.IdentifierNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		if !ok || !ok2 || root.Value != "technician" || n.Optional {
			return false
		}
		switch prop.Value {
		case "skills", "languages", "channel_ids":
			return true
		}
	}
	return false
}

// findClosure returns the first closure built-in or closure body inside n.
func findClosure(n ast.Node) ast.Node {
	f := &closureFinder{}
	ast.Walk(&n, f)
	return f.found
}

type closureFinder struct{ found ast.Node }

func (f *closureFinder) Visit(node *ast.Node) {
	if f.found != nil {
		return
	}
	// Every closure body belongs to a closure built-in, so looking for the
	// built-ins finds them all.
	if n, ok := (*node).(*ast.BuiltinNode); ok && isClosureBuiltin(n.Name) {
		f.found = n
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
