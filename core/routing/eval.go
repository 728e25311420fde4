package routing

import (
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"unsafe"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// evaluator is what evaluations run with: a reusable VM and the two
// environments, each held by an interface value that shares its storage.
//
// Why the shared interfaces: expr reads a field through reflection and
// returns it as an interface value. Read through a pointer (an addressable
// reflect.Value), every string, slice or number read is copied to the heap
// first: two allocations per candidate for
// `technician.status == "online" && "scanners" in technician.skills`. Read
// from a struct held by value in an interface, reflection hands out
// pointers into that struct and allocates nothing. envAny and fenvAny hold
// env and fenv that way, so the router fills them once per call and swaps
// only fenv.Technician per candidate, with no allocation per candidate or
// per field read.
//
// The interface values point into the evaluator, which is not what Go does
// when it boxes a value (it copies it, and the copy never changes): values
// an evaluation reads may change when the next candidate is swapped in.
// That is safe because nothing an evaluation produces outlives it: a rule
// returns a boolean, the VM's stack is cleared at the start of the next run
// and the validator refuses variables (`let`). An evaluator is used by one
// goroutine at a time (it comes from a sync.Pool).
type evaluator struct {
	vm      vm.VM
	env     predicateEnv
	fenv    filterEnv
	envAny  any       // env, by value
	fenvAny any       // fenv, by value
	nenv    nativeEnv // points into fenv

	// The filter result cache (see cacheAfter), kept between
	// uses so that it allocates only when it grows.
	cache map[uint64]cachedResult
	seed  maphash.Seed
	// ids is scratch space for the eligible IDs of a routing (see steps).
	ids []int64
}

var evaluators = sync.Pool{New: func() any {
	e := &evaluator{vm: vm.VM{MemoryBudget: MemoryBudget}}
	e.env.InStrings, e.fenv.InStrings = inStrings, inStrings
	e.envAny = sharedBox(&e.env)
	e.fenvAny = sharedBox(&e.fenv)
	e.nenv = nativeEnv{&e.fenv.Session, &e.fenv.Clock, &e.fenv.Queue}
	return e
}}

func getEvaluator() *evaluator { return evaluators.Get().(*evaluator) }

// put clears the environments, so that a pooled evaluator keeps no
// session's data (or its maps) alive, and returns e to the pool.
func (e *evaluator) put() {
	e.env = predicateEnv{InStrings: inStrings}
	e.fenv = filterEnv{InStrings: inStrings}
	if cap(e.ids) > maxPooledIDs {
		e.ids = nil
	}
	evaluators.Put(e)
}

// maxPooledIDs bounds the scratch space a pooled evaluator keeps (128 KiB).
const maxPooledIDs = 1 << 14

// setEnv makes env what predicates and filters see (the technician aside).
func (e *evaluator) setEnv(env *Env) {
	e.env.Session, e.env.Clock, e.env.Queue = env.Session, env.Clock, env.Queue
	e.fenv.Session, e.fenv.Clock, e.fenv.Queue = env.Session, env.Clock, env.Queue
}

// match evaluates a predicate against the environment set by setEnv.
func (e *evaluator) match(p *Program) (bool, error) {
	if ok, done, err := nativeSafely(p, e.nenv, nil); done {
		return ok, err
	}
	return run(&e.vm, p, e.envAny)
}

// accept evaluates a filter for t against the environment set by setEnv.
func (e *evaluator) accept(p *Program, t *TechnicianEnv) (bool, error) {
	if ok, done, err := nativeSafely(p, e.nenv, t); done {
		return ok, err
	}
	return e.runFilter(p, t)
}

// runFilter evaluates a filter for t on the VM.
func (e *evaluator) runFilter(p *Program, t *TechnicianEnv) (bool, error) {
	e.fenv.Technician = *t
	return run(&e.vm, p, e.fenvAny)
}

// native gives p's answer for t (nil for a predicate) from its native form,
// or false from its guard; done is false when the VM must decide.
func native(p *Program, env nativeEnv, t *TechnicianEnv) (ok, done bool) {
	if p.native != nil {
		return p.native(env, t), true
	}
	if p.guard != nil && !p.guard(env, t) {
		return false, true
	}
	return false, false
}

// nativeSafely is native with run's second fence: a panic, which the tests
// say cannot happen, fails the evaluation instead of the caller. Passes
// over the candidates recover once per pass instead (see eligibleFor).
func nativeSafely(p *Program, env nativeEnv, t *TechnicianEnv) (ok, done bool, err error) {
	if p.native == nil && p.guard == nil {
		return false, false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			ok, done, err = false, true, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	ok, done = native(p, env, t)
	return ok, done, nil
}

// eface is the layout of an interface value with no methods.
type eface struct {
	typ, data unsafe.Pointer
}

// sharedBox returns an interface value holding a T whose storage is *p
// (see evaluator). p must outlive every use of the result, which it does
// for fields of a pooled evaluator: the interface keeps it reachable.
func sharedBox[T any](p *T) any {
	var zero T
	box := any(zero) // only its type word is used
	(*eface)(unsafe.Pointer(&box)).data = unsafe.Pointer(p)
	return box
}

// techFields is a set of technician fields a filter reads, one bit each.
type techFields uint16

const (
	readsGroupID techFields = 1 << iota
	readsChannelIDs
	readsSkills
	readsLanguages
	readsStatus
	readsActiveSessions
	// Fields almost every technician has a value of their own for: a filter
	// reading one is not worth caching.
	readsID
	readsName
	readsIdleSeconds
	// readsAll: the filter reads the technician in a way not listed above.
	readsAll
)

// sharedFields are the fields many technicians have the same values of.
const sharedFields = readsGroupID | readsChannelIDs | readsSkills | readsLanguages | readsStatus | readsActiveSessions

var techFieldBits = map[string]techFields{
	"id": readsID, "name": readsName, "group_id": readsGroupID, "channel_ids": readsChannelIDs,
	"skills": readsSkills, "languages": readsLanguages, "status": readsStatus,
	"active_sessions": readsActiveSessions, "idle_seconds": readsIdleSeconds,
}

// technicianReads finds which technician fields the expression tree reads:
// only technician.<field> (or technician["field"], technician?.field) is
// understood; any other use of technician or $env reads everything.
func technicianReads(tree ast.Node) techFields {
	v := &readsVisitor{}
	ast.Walk(&tree, v)
	if v.uses > v.fieldUses {
		v.reads |= readsAll
	}
	return v.reads
}

type readsVisitor struct {
	reads           techFields
	uses, fieldUses int
}

func (v *readsVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "technician":
			v.uses++
		case "$env":
			v.reads |= readsAll
		}
	case *ast.MemberNode:
		root, ok := n.Node.(*ast.IdentifierNode)
		if !ok || root.Value != "technician" {
			return
		}
		if prop, ok := n.Property.(*ast.StringNode); ok {
			if bit, known := techFieldBits[prop.Value]; known {
				v.reads |= bit
				v.fieldUses++
			}
		}
	}
}

// A filter's results are cached within one pass over the candidates
// (Route, Explain, Eligible) when the filter reads only fields many
// technicians share (sharedFields) and it has already gone to the VM
// cacheAfter times in the pass (a native filter is not cached: its answer
// costs less than a lookup): the filter is a pure function of the
// session's environment, which does not change during the pass, and of the
// fields it reads, so two candidates with equal values of those fields get
// the same answer. A candidate is looked up by a hash of the fields and
// compared field by field with the candidate the cached answer was
// computed for; on a collision the filter simply runs. Only successful evaluations are
// cached, so a filter failing at run time still fails on the first
// candidate it fails for. Looking up costs about half an evaluation, so
// small passes (a group of a few dozen) are not cached.
const cacheAfter = 32

type cachedResult struct {
	candidate int // index in the candidates the answer was computed for
	ok        bool
}

// cacheable says whether p's results may be cached.
func cacheable(p *Program) bool { return p.reads != 0 && p.reads&^sharedFields == 0 }

// filterAt evaluates filter p for candidates[j] behind its guard (see
// native.go; eligibleFor runs a native filter itself), on the VM, through
// the result cache when it pays. vmRuns counts the candidates p has gone to
// the VM for in this pass. It does not recover panics: its caller does,
// once per pass.
func (e *evaluator) filterAt(p *Program, candidates []TechnicianEnv, j int, vmRuns *int) (bool, error) {
	if ok, done := native(p, e.nenv, &candidates[j]); done {
		return ok, nil
	}
	n := *vmRuns
	*vmRuns = n + 1
	switch {
	case n < cacheAfter || !cacheable(p):
		return e.runFilter(p, &candidates[j])
	case n == cacheAfter:
		e.startCache()
	}
	return e.acceptCached(p, candidates, j)
}

// startCache empties the result cache for a new filter over candidates.
func (e *evaluator) startCache() {
	if e.cache == nil {
		e.cache = make(map[uint64]cachedResult)
		e.seed = maphash.MakeSeed()
	}
	clear(e.cache)
}

// acceptCached is runFilter with the result cache (see cacheAfter).
func (e *evaluator) acceptCached(p *Program, candidates []TechnicianEnv, j int) (bool, error) {
	t := &candidates[j]
	k := e.key(p.reads, t)
	c, hit := e.cache[k]
	if hit && sameFields(p.reads, &candidates[c.candidate], t) {
		return c.ok, nil
	}
	ok, err := e.runFilter(p, t)
	if err == nil && !hit {
		e.cache[k] = cachedResult{candidate: j, ok: ok}
	}
	return ok, err
}

// key hashes the fields of t that f lists.
func (e *evaluator) key(f techFields, t *TechnicianEnv) uint64 {
	h := uint64(f)
	if f&readsGroupID != 0 {
		h = mix(h, uint64(t.GroupID))
	}
	if f&readsChannelIDs != 0 {
		h = mix(h, uint64(len(t.ChannelIDs)))
		for _, id := range t.ChannelIDs {
			h = mix(h, uint64(id))
		}
	}
	if f&readsSkills != 0 {
		h = e.mixStrings(h, t.Skills)
	}
	if f&readsLanguages != 0 {
		h = e.mixStrings(h, t.Languages)
	}
	if f&readsStatus != 0 {
		h = mix(h, maphash.String(e.seed, t.Status))
	}
	if f&readsActiveSessions != 0 {
		h = mix(h, uint64(t.ActiveSessions))
	}
	return h
}

func (e *evaluator) mixStrings(h uint64, l []string) uint64 {
	h = mix(h, uint64(len(l)))
	for _, s := range l {
		h = mix(h, maphash.String(e.seed, s))
	}
	return h
}

// mix folds v into the hash h.
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}

// sameFields says whether a and b agree on every field f lists.
func sameFields(f techFields, a, b *TechnicianEnv) bool {
	return (f&readsGroupID == 0 || a.GroupID == b.GroupID) &&
		(f&readsChannelIDs == 0 || slices.Equal(a.ChannelIDs, b.ChannelIDs)) &&
		(f&readsSkills == 0 || slices.Equal(a.Skills, b.Skills)) &&
		(f&readsLanguages == 0 || slices.Equal(a.Languages, b.Languages)) &&
		(f&readsStatus == 0 || a.Status == b.Status) &&
		(f&readsActiveSessions == 0 || a.ActiveSessions == b.ActiveSessions)
}
