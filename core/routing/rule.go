package routing

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/tetherhq/tether/core/fault"
)

// FieldError is one reason a rule was refused, keyed by the JSON path of
// the offending field ("then.steps[1].filter").
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Line and Column locate an expression error inside the expression
	// (1-based); 0 for structural errors.
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Snippet string `json:"snippet,omitempty"`
}

func (e FieldError) Error() string {
	if e.Line == 0 {
		return e.Path + ": " + e.Message
	}
	return fmt.Sprintf("%s: %s (line %d, column %d)", e.Path, e.Message, e.Line, e.Column)
}

// RuleErrors lists every reason one or more rules were refused.
type RuleErrors []FieldError

func (e RuleErrors) Error() string {
	parts := make([]string, len(e))
	for i, fe := range e {
		parts[i] = fe.Error()
	}
	return "routing: invalid rule: " + strings.Join(parts, "; ")
}

// Fault renders the errors as the API's validation failure, positions
// folded into the messages.
func (e RuleErrors) Fault() *fault.Error {
	fields := make(map[string]string, len(e))
	for _, fe := range e {
		msg := fe.Message
		if fe.Line != 0 {
			msg = fmt.Sprintf("%s (line %d, column %d)", fe.Message, fe.Line, fe.Column)
		}
		if prev, ok := fields[fe.Path]; ok {
			msg = prev + "; " + msg
		}
		fields[fe.Path] = msg
	}
	return fault.Fields(fields)
}

// CompiledRule is a valid rule with its expressions compiled. Build it with
// CompileRule; the zero value matches nothing.
type CompiledRule struct {
	Rule    Rule
	when    *Program
	filters []*Program // per step of steps(); nil where the step has no filter
	steps   []Step     // Then.Steps with inherited targets filled in, or the implicit single step
}

// CompileRule checks r's structure and compiles its expressions. Every
// problem is reported at once, as RuleErrors.
func CompileRule(r Rule) (CompiledRule, error) {
	errs := checkStructure(r)
	c := CompiledRule{Rule: r, steps: effectiveSteps(r.Then)}
	if r.When != "" { // an empty when is reported by checkStructure
		if p, err := Compile(r.When, KindPredicate); err != nil {
			errs = append(errs, exprFieldError("when", err, "session, clock and queue"))
		} else {
			c.when = p
		}
	}
	c.filters = make([]*Program, len(c.steps))
	for i, s := range r.Then.Steps {
		if s.Filter == "" {
			continue
		}
		p, err := Compile(s.Filter, KindFilter)
		if err != nil {
			errs = append(errs, exprFieldError(fmt.Sprintf("then.steps[%d].filter", i), err, ""))
			continue
		}
		c.filters[i] = p
	}
	if len(errs) > 0 {
		return CompiledRule{}, errs
	}
	return c, nil
}

// CompileRules compiles a list of rules (an admin's list, a rule pack) and
// refuses it whole if any rule is invalid, listing every error with the
// rule's index: "rules[2].then.steps[0].filter".
func CompileRules(rules []Rule) ([]CompiledRule, error) {
	out := make([]CompiledRule, len(rules))
	var errs RuleErrors
	for i, r := range rules {
		c, err := CompileRule(r)
		var re RuleErrors
		if errors.As(err, &re) {
			for _, fe := range re {
				fe.Path = fmt.Sprintf("rules[%d].%s", i, fe.Path)
				errs = append(errs, fe)
			}
			continue
		}
		out[i] = c
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Steps returns the escalation steps the rule runs: Then.Steps with empty
// targets replaced by Then.Target, or a single step on Then.Target.
func (c *CompiledRule) Steps() []Step { return c.steps }

func effectiveSteps(t Then) []Step {
	if len(t.Steps) == 0 {
		return []Step{{Target: t.Target}}
	}
	steps := make([]Step, len(t.Steps))
	for i, s := range t.Steps {
		if s.Target.IsZero() {
			s.Target = t.Target
		}
		steps[i] = s
	}
	return steps
}

func exprFieldError(path string, err error, sees string) FieldError {
	var ee *ExprError
	if !errors.As(err, &ee) {
		return FieldError{Path: path, Message: err.Error()}
	}
	msg := ee.Message
	if sees != "" && strings.HasPrefix(msg, "unknown name technician") {
		msg += " (a rule's when sees " + sees + "; technician is for step filters)"
	}
	return FieldError{Path: path, Message: msg, Line: ee.Line, Column: ee.Column, Snippet: ee.Snippet}
}

// checkStructure applies the validate tags, then the rules tags cannot say.
func checkStructure(r Rule) RuleErrors {
	var errs RuleErrors
	if err := fault.Validator().Struct(r); err != nil {
		var verrs validator.ValidationErrors
		if !errors.As(err, &verrs) {
			return RuleErrors{{Path: "", Message: err.Error()}}
		}
		for _, fe := range verrs {
			path := fe.Namespace()
			if i := strings.IndexByte(path, '.'); i >= 0 {
				path = path[i+1:]
			}
			if path == "when" || strings.HasSuffix(path, ".wait") {
				continue // reported below with better words
			}
			errs = append(errs, FieldError{Path: path, Message: fault.Rule(fe.Tag(), fe.Param(), fe.Kind())})
		}
	}
	if r.When == "" {
		errs = append(errs, FieldError{Path: "when", Message: "is required (use true to match every session)"})
	}
	errs = append(errs, checkTarget("then.target", r.Then.Target)...)
	last := len(r.Then.Steps) - 1
	for i, s := range r.Then.Steps {
		path := fmt.Sprintf("then.steps[%d]", i)
		if !s.Target.IsZero() {
			errs = append(errs, checkTarget(path+".target", s.Target)...)
		}
		switch {
		case s.Wait < 0 || s.Wait > MaxStepWait:
			errs = append(errs, FieldError{Path: path + ".wait", Message: "must be between 0s and 24h"})
		case s.Wait == 0 && i < last:
			errs = append(errs, FieldError{Path: path + ".wait", Message: "must be positive: the next step starts when it ends (only the last step may wait forever)"})
		}
	}
	return errs
}

func checkTarget(path string, t Target) RuleErrors {
	var errs RuleErrors
	if t.Kind == "" {
		errs = append(errs, FieldError{Path: path + ".kind", Message: "is required: group, channel or technicians"})
	}
	if len(t.IDs) == 0 {
		errs = append(errs, FieldError{Path: path + ".ids", Message: "must list at least one ID"})
	}
	return errs
}
