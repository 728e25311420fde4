package routing

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Program is a validated, compiled expression. It is immutable and safe to
// share between goroutines.
type Program struct {
	src  string
	kind Kind
	prog *vm.Program
	// reads are the technician fields a filter reads (see technicianReads).
	reads techFields
	// native is the expression compiled to Go when it is in the native
	// subset, and guard its leading && operands that are when it is not
	// (see native.go); nil otherwise.
	native, guard nativeBool
}

// Source returns the expression's text.
func (p *Program) Source() string { return p.src }

// Kind returns what the expression is for.
func (p *Program) Kind() Kind { return p.kind }

// maxCached bounds the program cache; past it the cache starts over, which
// costs one compilation per rule in use.
const maxCached = 10000

type cacheKey struct {
	kind Kind
	src  string
}

var cache = struct {
	sync.RWMutex
	m map[cacheKey]*Program
}{m: map[cacheKey]*Program{}}

// Compile validates src (see Validate), then type-checks and compiles it
// for kind's environment. Unknown fields, type errors and a non-boolean
// result are refused with their position (an *ExprError). Programs are
// cached by kind and source, so compiling the same rule again is a lookup.
func Compile(src string, kind Kind) (*Program, error) {
	key := cacheKey{kind, src}
	cache.RLock()
	p, ok := cache.m[key]
	cache.RUnlock()
	if ok {
		return p, nil
	}
	p, err := compile(src, kind)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if len(cache.m) >= maxCached {
		clear(cache.m)
	}
	cache.m[key] = p
	cache.Unlock()
	return p, nil
}

func compile(src string, kind Kind) (_ *Program, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ExprError{Message: fmt.Sprintf("the expression could not be compiled (%v)", v)}
		}
	}()
	if err := Validate(src, kind); err != nil {
		return nil, err
	}
	env, runEnv := any(Env{}), any(predicateEnv{})
	if kind == KindFilter {
		env, runEnv = FilterEnv{}, filterEnv{}
	}
	options := func(env any) []expr.Option {
		opts := []expr.Option{
			expr.Env(env),
			expr.AsBool(),
			expr.DisableAllBuiltins(),
			expr.MaxNodes(MaxNodes * 2), // the validator counted first; this is a second fence
		}
		for name := range allowedBuiltins {
			opts = append(opts, expr.EnableBuiltin(name))
		}
		return append(opts, functionOptions()...)
	}
	// Type-check without patchers first. With a patcher, expr v1.17.8
	// checks twice and ignores the first pass's errors, and the second pass
	// trusts the call types of the first: unknown names inside function
	// arguments would get through. The source is checked strictly here,
	// against the documented environment; the patched compilation below
	// only rewrites well-typed nodes.
	strict, err := expr.Compile(src, options(env)...)
	if err != nil {
		return nil, compileError(src, err)
	}
	if err := checkTyped(src, strict.Node()); err != nil {
		return nil, err
	}
	opts := append(options(runEnv), expr.Patch(inStringsPatcher{}), expr.Patch(hmFolder{}))
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileError(src, err)
	}
	p := &Program{src: src, kind: kind, prog: prog}
	if kind == KindFilter {
		p.reads = technicianReads(strict.Node())
	}
	// The native form is compiled from the tree as written, type-checked
	// but not rewritten by expr's optimizer.
	if typed, err := expr.Compile(src, append(options(env), expr.Optimize(false))...); err == nil {
		p.native, p.guard = compileNative(typed.Node(), kind == KindFilter)
	}
	return p, nil
}

func compileError(src string, err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fromFileError(fe.Bind(file.NewSource(src)))
	}
	if rest, ok := strings.CutPrefix(err.Error(), "expected bool, but got "); ok {
		return &ExprError{Message: "the expression must be true or false, not a value of type " + rest}
	}
	return &ExprError{Message: err.Error()}
}

// predicateEnv and filterEnv are what programs are compiled for and run
// against: Env and FilterEnv plus the function inStringsPatcher rewrites
// `in` into. Rules cannot name it: they are type-checked against Env and
// FilterEnv first, and the validator refuses unknown functions.
//
// They are flat copies rather than Env or FilterEnv embedded: expr reads
// technician.status through reflection one struct level at a time, and a
// level less is a tenth less time per filter. TestRunEnvsMatch keeps the
// fields in step.
type predicateEnv struct {
	Session   SessionEnv                  `expr:"session"`
	Clock     ClockEnv                    `expr:"clock"`
	Queue     QueueEnv                    `expr:"queue"`
	InStrings func(needle, list any) bool `expr:"in_strings"`
}

type filterEnv struct {
	Session    SessionEnv                  `expr:"session"`
	Clock      ClockEnv                    `expr:"clock"`
	Queue      QueueEnv                    `expr:"queue"`
	Technician TechnicianEnv               `expr:"technician"`
	InStrings  func(needle, list any) bool `expr:"in_strings"`
}

// inStrings is `needle in list` for a string and a list of strings. Its
// type, func(any, any) bool, is one expr calls without reflection and
// without building an argument list (OpCallTyped), so it costs no
// allocation; expr's own `in` boxes every element of the list, and a
// function given with expr.Function allocates its arguments on every run.
func inStrings(needle, list any) bool {
	s, _ := needle.(string)
	l, _ := list.([]string)
	return contains(l, s)
}

var (
	stringType  = reflect.TypeFor[string]()
	stringsType = reflect.TypeFor[[]string]()
)

// inStringsPatcher rewrites `s in list`, s a string and list a []string
// (technician.skills, technician.languages), into in_strings(s, list).
// Other `in`s keep expr's operator (and its optimisation of literal lists
// into a set).
type inStringsPatcher struct{}

func (inStringsPatcher) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok || b.Operator != "in" || b.Left.Type() != stringType || b.Right.Type() != stringsType {
		return
	}
	ast.Patch(node, &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: "in_strings"},
		Arguments: []ast.Node{b.Left, b.Right},
	})
}

// hmFolder replaces hm("08:30") by 510 at compile time; the validator has
// already refused anything but a valid literal.
type hmFolder struct{}

func (hmFolder) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 1 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "hm" {
		return
	}
	if lit, ok := call.Arguments[0].(*ast.StringNode); ok {
		if m, err := parseHM(lit.Value); err == nil {
			ast.Patch(node, &ast.IntegerNode{Value: m})
		}
	}
}

// Match evaluates a predicate against env.
func (p *Program) Match(env *Env) (bool, error) {
	if p.kind != KindPredicate {
		return false, fmt.Errorf("routing: %s expression evaluated as a predicate", p.kind)
	}
	if ok, done, err := nativeSafely(p, nativeEnv{&env.Session, &env.Clock, &env.Queue}, nil); done {
		return ok, err
	}
	e := getEvaluator()
	e.setEnv(env)
	ok, err := run(&e.vm, p, e.envAny)
	e.put()
	return ok, err
}

// Accept evaluates a technician filter against env.
func (p *Program) Accept(env *FilterEnv) (bool, error) {
	if p.kind != KindFilter {
		return false, fmt.Errorf("routing: %s expression evaluated as a filter", p.kind)
	}
	if ok, done, err := nativeSafely(p, nativeEnv{&env.Session, &env.Clock, &env.Queue}, &env.Technician); done {
		return ok, err
	}
	e := getEvaluator()
	e.fenv.Session, e.fenv.Clock, e.fenv.Queue = env.Session, env.Clock, env.Queue
	ok, err := e.runFilter(p, &env.Technician)
	e.put()
	return ok, err
}

// ErrPanic marks an evaluation that panicked outside expr's own recovery.
var ErrPanic = errors.New("routing: evaluation panicked")

// run evaluates p on m. expr recovers its own run-time panics into errors;
// the deferred recover is a second fence for anything that escapes it (a
// bug in expr or in one of our functions), so a rule can never take the
// queue down with it.
func run(m *vm.VM, p *Program, env any) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	out, err := m.Run(p.prog, env)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return false, fromFileError(fe)
		}
		return false, err
	}
	b, isBool := out.(bool)
	if !isBool {
		return false, fmt.Errorf("routing: expression returned %T, not a boolean", out)
	}
	return b, nil
}
