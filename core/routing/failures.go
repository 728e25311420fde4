package routing

import (
	"maps"
	"sync"
)

// FailureLog counts run-time failures per rule and keeps each rule's last
// error, for /metrics and the admin's rule list. Use its Record method as
// Router.OnFailure. Safe for concurrent use; the zero value is ready.
type FailureLog struct {
	mu    sync.Mutex
	rules map[int64]RuleFailures
}

// RuleFailures is one rule's run-time failure record.
type RuleFailures struct {
	RuleName  string
	Count     uint64
	Panics    uint64
	LastError string
	// LastStep is the step of the last failure, -1 for `when`.
	LastStep int
}

// Record counts f.
func (l *FailureLog) Record(f Failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rules == nil {
		l.rules = map[int64]RuleFailures{}
	}
	r := l.rules[f.RuleID]
	r.RuleName, r.LastStep = f.RuleName, f.Step
	r.Count++
	if f.Panicked {
		r.Panics++
	}
	if f.Err != nil {
		r.LastError = f.Err.Error()
	}
	l.rules[f.RuleID] = r
}

// Snapshot returns a copy of the records by rule ID (0 for failures of
// the router itself).
func (l *FailureLog) Snapshot() map[int64]RuleFailures {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.rules)
}
