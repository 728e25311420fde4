package routing

import (
	"errors"
	"fmt"
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
	env := any(Env{})
	if kind == KindFilter {
		env = FilterEnv{}
	}
	opts := []expr.Option{
		expr.Env(env),
		expr.AsBool(),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(MaxNodes * 2), // the validator counted first; this is a second fence
	}
	for name := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	opts = append(opts, functionOptions()...)
	// Type-check without patchers first. With a patcher, expr v1.17.8
	// checks twice and ignores the first pass's errors, and the second pass
	// trusts the call types of the first: unknown names inside function
	// arguments would get through. The source is checked strictly here;
	// the patched compilation below only rewrites well-typed nodes.
	strict, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileError(src, err)
	}
	if err := checkTyped(src, strict.Node()); err != nil {
		return nil, err
	}
	opts = append(opts,
		// "x" in technician.skills through a typed loop instead of expr's
		// reflective one, which boxes every element.
		expr.Function("in_strings", inStrings, new(func(string, []string) bool)),
		expr.Operator("in", "in_strings"),
		expr.Patch(hmFolder{}),
	)
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, compileError(src, err)
	}
	return &Program{src: src, kind: kind, prog: prog}, nil
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

func inStrings(p ...any) (any, error) {
	return contains(p[1].([]string), p[0].(string)), nil
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

// vms are reusable VMs; a VM keeps its stack and scopes between runs, which
// is what makes an evaluation cost no allocations of its own.
var vms = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// Match evaluates a predicate against env.
func (p *Program) Match(env *Env) (bool, error) {
	if p.kind != KindPredicate {
		return false, fmt.Errorf("routing: %s expression evaluated as a predicate", p.kind)
	}
	m := vms.Get().(*vm.VM)
	ok, err := run(m, p, env)
	vms.Put(m)
	return ok, err
}

// Accept evaluates a technician filter against env.
func (p *Program) Accept(env *FilterEnv) (bool, error) {
	if p.kind != KindFilter {
		return false, fmt.Errorf("routing: %s expression evaluated as a filter", p.kind)
	}
	m := vms.Get().(*vm.VM)
	ok, err := run(m, p, env)
	vms.Put(m)
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
