package routing

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// function is one of the functions rules may call besides the allowed
// built-ins. Each is pure (no clock, no I/O, no state) and costs at most
// len(a)*len(b) string comparisons, both lists being bounded.
type function struct {
	fn    func(params ...any) (any, error)
	types []any
	// check refuses bad arguments when the rule is saved; "" accepts.
	check func(args []ast.Node) string
}

var functions = map[string]function{
	// has_any(technician.skills, ["printers", "scanners"]): at least one of the values is in the list.
	"has_any": {fn: hasAny, types: listPairTypes},
	// has_all(technician.languages, ["en", "fr"]): every value is in the list.
	"has_all": {fn: hasAll, types: listPairTypes},
	// equal_fold(session.language, "FR"): equal ignoring case.
	"equal_fold": {
		fn: func(p ...any) (any, error) {
			return strings.EqualFold(p[0].(string), p[1].(string)), nil
		},
		types: []any{new(func(string, string) bool)},
	},
	// hm("08:30") is 510, the minute of the day to compare with clock.minute_of_day.
	"hm": {fn: hm, types: []any{new(func(string) int)}, check: checkHM},
}

var listPairTypes = []any{
	new(func([]string, []any) bool),
	new(func([]string, []string) bool),
}

func functionOptions() []expr.Option {
	opts := make([]expr.Option, 0, len(functions))
	for name, f := range functions {
		opts = append(opts, expr.Function(name, f.fn, f.types...))
	}
	return opts
}

func hasAny(p ...any) (any, error) {
	list := p[0].([]string)
	found := false
	eachString(p[1], func(v string) bool {
		found = contains(list, v)
		return !found
	})
	return found, nil
}

func hasAll(p ...any) (any, error) {
	list := p[0].([]string)
	all := true
	eachString(p[1], func(v string) bool {
		all = contains(list, v)
		return all
	})
	return all, nil
}

// eachString calls f for each string of values ([]string or []any) until f
// returns false; non-string elements of a literal list never match.
func eachString(values any, f func(string) bool) {
	switch vs := values.(type) {
	case []string:
		for _, v := range vs {
			if !f(v) {
				return
			}
		}
	case []any:
		for _, v := range vs {
			s, _ := v.(string)
			if !f(s) {
				return
			}
		}
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func hm(p ...any) (any, error) {
	m, err := parseHM(p[0].(string))
	if err != nil {
		return nil, err
	}
	return m, nil
}

func parseHM(s string) (int, error) {
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	if len(s) == 5 && s[2] == ':' {
		h1, ok1 := digit(s[0])
		h2, ok2 := digit(s[1])
		m1, ok3 := digit(s[3])
		m2, ok4 := digit(s[4])
		h, m := h1*10+h2, m1*10+m2
		if ok1 && ok2 && ok3 && ok4 && m < 60 && (h < 24 || h == 24 && m == 0) {
			return h*60 + m, nil
		}
	}
	return 0, fmt.Errorf("hm(%q): want \"HH:MM\" from 00:00 to 24:00", s)
}

func checkHM(args []ast.Node) string {
	if len(args) != 1 {
		return "takes one \"HH:MM\" string"
	}
	lit, ok := args[0].(*ast.StringNode)
	if !ok {
		return "takes a literal such as \"08:30\""
	}
	if _, err := parseHM(lit.Value); err != nil {
		return err.Error()
	}
	return ""
}
