package routing

import (
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
	envAny  any // env, by value
	fenvAny any // fenv, by value

	// The filter result cache (see cacheAfter), kept between
	// uses so that it allocates only when it grows.
	cache map[uint64]cachedResult
	seed  maphash.Seed
}

var evaluators = sync.Pool{New: func() any {
	e := &evaluator{vm: vm.VM{MemoryBudget: MemoryBudget}}
	e.env.InStrings, e.fenv.InStrings = inStrings, inStrings
	e.envAny = sharedBox(&e.env)
	e.fenvAny = sharedBox(&e.fenv)
	return e
}}

func getEvaluator() *evaluator { return evaluators.Get().(*evaluator) }

// put clears the environments, so that a pooled evaluator keeps no
// session's data (or its maps) alive, and returns e to the pool.
func (e *evaluator) put() {
	e.env = predicateEnv{InStrings: inStrings}
	e.fenv = filterEnv{InStrings: inStrings}
	evaluators.Put(e)
}

// setEnv makes env what predicates and filters see (the technician aside).
func (e *evaluator) setEnv(env *Env) {
	e.env.Session, e.env.Clock, e.env.Queue = env.Session, env.Clock, env.Queue
	e.fenv.Session, e.fenv.Clock, e.fenv.Queue = env.Session, env.Clock, env.Queue
}

// match evaluates a predicate against the environment set by setEnv.
func (e *evaluator) match(p *Program) (bool, error) { return run(&e.vm, p, e.envAny) }

// accept evaluates a filter for t against the environment set by setEnv.
func (e *evaluator) accept(p *Program, t *TechnicianEnv) (bool, error) {
	e.fenv.Technician = *t
	return run(&e.vm, p, e.fenvAny)
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
// technicians share (sharedFields) and it has already run cacheAfter
// times in the pass: the filter is a pure function of the session's
// environment, which does not change during the pass, and of the fields it
// reads, so two candidates with equal values of those fields get the same
// answer. A candidate is looked up by a hash of the fields and compared
// field by field with the candidate the cached answer was computed for; on
// a collision the filter simply runs. Only successful evaluations are
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

// acceptAt evaluates filter p for candidates[j], the n-th candidate (from
// 0) p runs for in this pass, through the cache when it pays.
func (e *evaluator) acceptAt(p *Program, candidates []TechnicianEnv, j, n int) (bool, error) {
	switch {
	case n < cacheAfter || !cacheable(p):
		return e.accept(p, &candidates[j])
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

// acceptCached is accept with the result cache (see cacheAfter).
func (e *evaluator) acceptCached(p *Program, candidates []TechnicianEnv, j int) (bool, error) {
	t := &candidates[j]
	k := e.key(p.reads, t)
	c, hit := e.cache[k]
	if hit && sameFields(p.reads, &candidates[c.candidate], t) {
		return c.ok, nil
	}
	ok, err := e.accept(p, t)
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
