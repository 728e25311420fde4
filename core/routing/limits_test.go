package routing

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateAcceptsBoundedExpressions(t *testing.T) {
	for _, tc := range []struct {
		kind Kind
		src  string
	}{
		{KindPredicate, typicalPredicate},
		{KindPredicate, `true`},
		{KindPredicate, `session.kind == "private" || session.transfer_count >= 2`},
		{KindPredicate, `clock.weekday in ["sat", "sun"] || !clock.in_working_hours`},
		{KindPredicate, `clock.minute_of_day >= hm("08:30") && clock.minute_of_day < hm("17:00")`},
		{KindPredicate, `queue.available[5] == 0 && queue.waiting > 10`},
		{KindPredicate, `lower(session.fields["Contract"]) == "gold" && len(session.tracking_id) > 0`},
		{KindPredicate, `session.cfield1 matches "^[A-Z]{2}-[0-9]+$"`},
		{KindPredicate, `"a" + "b" == session.cfield0`}, // folded into a constant when compiled
		{KindPredicate, `session.transfer_count + 1 > 2`},
		{KindPredicate, `session.cfield0 contains "x" or session.tracking_id startsWith "SF-" and not (session.platform endsWith "os")`},
		{KindPredicate, `session.language not in ["de", "nl"] && {"fr": 1, "en": 2}[session.language] != 2`},
		{KindPredicate, `if session.kind == "private" { session.group_id == 7 } else { session.channel_id in [1, 2, 3] }`},
		{KindPredicate, `hasPrefix(session.tracking_id, "SF-") ? session.waiting_seconds > 60 : false`},
		{KindPredicate, `any(["Printer", "Scanner"], {# == session.fields["Product"]})`},
		{KindPredicate, `(session.fields?.Product ?? "") != ""`},
		{KindFilter, `"printers" in technician.skills && technician.status == "online"`},
		{KindFilter, `any(technician.languages, {equal_fold(#, session.language)})`},
		{KindFilter, `technician.skills | count(hasPrefix(#, "net")) >= 2`},
		{KindFilter, `has_all(technician.skills, ["printers", "scanners"]) || has_any(technician.languages, ["fr"])`},
		{KindFilter, `none(technician.channel_ids, {# == 9})`},
		{KindFilter, `technician.active_sessions < 2 && technician.idle_seconds > 30`},
		{KindFilter, strings.Repeat("(", 500) + "true" + strings.Repeat(")", 500)}, // parentheses are no nodes
	} {
		if err := Validate(tc.src, tc.kind); err != nil {
			t.Errorf("Validate(%q) = %v, want accepted", tc.src, err)
		}
		if _, err := Compile(tc.src, tc.kind); err != nil {
			t.Errorf("Compile(%q) = %v, want compiled", tc.src, err)
		}
	}
}

func TestValidateRefusesExpensiveShapes(t *testing.T) {
	long := `session.cfield1 == "` + strings.Repeat("x", MaxSourceBytes) + `"`
	for _, tc := range []struct {
		name, src, why string
	}{
		{"nested ranges", `all(1..1000, {all(1..1000, {true})})`, "ranges (..) are not allowed"},
		{"range", `5 in 1..10`, "ranges (..) are not allowed"},
		{"nested closures over literals", `any(["a"], {all(["b"], {true})})`, "closures cannot be nested: all inside any"},
		{"nested closures over skills", `any(technician.skills, {any(technician.languages, {# == "fr"})})`, "closures cannot be nested"},
		{"closure in the list", `any([count(["a"], {true})], {# > 0})`, "closures cannot be nested: count inside any"},
		{"closure over a map's keys", `any(keys(session.fields), {# == "x"})`, "keys is not allowed"},
		{"closure over a call", `any(has_any(technician.skills, ["a"]), {true})`, "may only go over"},
		{"closure over a field", `any(session.fields, {true})`, "may only go over"},
		{"closure over an optional chain", `any(technician?.skills, {true})`, "may only go over"},
		{"map", `len(map(technician.skills, {# + #})) > 0`, "map is not allowed"},
		{"filter", `len(filter(["a"], {true})) > 0`, "filter is not allowed"},
		{"reduce", `reduce(["a"], {#acc + #}, "") == ""`, "reduce is not allowed"},
		{"sortBy", `len(sortBy(["a"], {#})) > 0`, "sortBy is not allowed"},
		{"sum", `sum(["a"], {1}) > 0`, "sum is not allowed"},
		{"repeat", `repeat("a", 1000000) == ""`, "repeat is not allowed: it builds strings of any size"},
		{"replace", `replace(session.cfield0, "", "xx") == ""`, "replace is not allowed"},
		{"split", `"a" in split(session.cfield0, ",")`, "split is not allowed"},
		{"join", `join(technician.skills, ",") == ""`, "join is not allowed"},
		{"now", `now().Hour() > 8`, "now is not allowed"},
		{"date", `date("2026-01-01") != nil`, "date is not allowed"},
		{"fromJSON", `fromJSON(session.cfield1) != nil`, "fromJSON is not allowed"},
		{"toJSON", `toJSON(session) != ""`, "toJSON is not allowed"},
		{"flatten", `len(flatten([[1]])) > 0`, "flatten is not allowed"},
		{"let", `let s = session.cfield0 + session.cfield0; s != ""`, "let is not allowed"},
		{"dynamic regexp", `session.cfield1 matches session.cfield2`, "pattern of matches must be a string literal"},
		{"bad regexp", `session.cfield1 matches "(a"`, "not a regular expression"},
		{"complex regexp", `session.cfield1 matches "[a-z]{1,40}[0-9]{1,40}x"`, "the pattern is too complex (161 instructions, the limit is 30)"},
		{"long regexp", `session.cfield1 matches "` + strings.Repeat("a", MaxPatternBytes+1) + `"`, "the pattern is 101 bytes long"},
		{"too many regexps", `session.cfield0 matches "a" || session.cfield1 matches "b" || session.cfield2 matches "c" || session.cfield3 matches "d"`, "at most 3 matches"},
		{"regexp in a closure", `any(technician.skills, {# matches "^net"})`, "matches cannot be used inside a closure"},
		{"large closure body", `any(technician.skills, {# == "a" || # == "b" || # == "c" || # == "d" || # == "e" || # == "f"})`, "the body of any has 23 parts; the limit is 20"},
		{"string()", `string(technician.skills) != ""`, "string is not allowed"},
		{"closures too costly together", `any(technician.skills, {hasPrefix(#, "a") || hasPrefix(#, "b") || hasPrefix(#, "c")}) || ` +
			`any(technician.languages, {hasPrefix(#, "a") || hasPrefix(#, "b") || hasPrefix(#, "c")}) || ` +
			`any(technician.channel_ids, {# == 1 || # == 2 || # == 3 || # == 4})`, "the closures run 1184 parts in all"},
		{"long literal list with a body", `any([` + strings.Repeat(`"a",`, 100) + `"b"], {# == session.cfield0 || # == session.cfield1})`, "the closures run 1111 parts"},
		{"unknown function", `exec("rm") == ""`, "unknown function exec"},
		{"method call", `session.cfield0.Len() > 0`, "only the functions listed"},
		{"bad hm", `clock.minute_of_day > hm("25:00")`, `hm: hm("25:00")`},
		{"hm of a field", `clock.minute_of_day > hm(session.cfield1)`, "hm: takes a literal"},
		{"too long", long, "bytes long; the limit is 2000"},
		{"too many nodes", strings.TrimSuffix(strings.Repeat("true && ", 150), " && "), "parts (names, literals, operators, calls); the limit is 200"},
		{"empty", "  ", "the expression is empty"},
		{"syntax", `session.channel_id ==`, "unexpected token EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, kind := range []Kind{KindPredicate, KindFilter} {
				err := Validate(tc.src, kind)
				if err == nil || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("Validate(%.60q, %s) = %v, want an error containing %q", tc.src, kind, err, tc.why)
				}
				if _, cerr := Compile(tc.src, kind); cerr == nil || cerr.Error() != err.Error() {
					t.Fatalf("Compile(%.60q) = %v, want the validator's %v", tc.src, cerr, err)
				}
			}
		})
	}
}

func TestCompileErrorsHavePositions(t *testing.T) {
	for _, tc := range []struct {
		kind         Kind
		src          string
		why          string
		line, column int
	}{
		{KindPredicate, `session.chanel_id == 3`, "has no field chanel_id", 1, 9},
		{KindPredicate, `session.channel_id == 3 &&` + "\n" + `clock.hour == "nine"`, "invalid operation: == (mismatched types int and string)", 2, 12},
		{KindPredicate, `technician.status == "online"`, "unknown name technician", 1, 1},
		{KindPredicate, `has_any(technician.skills, ["x"])`, "unknown name technician", 1, 9},
		{KindFilter, `technician.skils[0] == "x"`, "has no field skils", 1, 12},
		{KindFilter, `has_any(technician.status, ["x"])`, "cannot use string as argument (type []string) to call has_any", 1, 20},
		{KindPredicate, `session.channel_id`, "must be true or false, not a value of type int64", 0, 0},
		{KindPredicate, `session.fields["Product"]`, "must be true or false", 0, 0},
		{KindFilter, `technician.skills`, "must be true or false", 0, 0},
		{KindPredicate, `clock.hour +`, "unexpected token EOF", 1, 12},
		{KindPredicate, `all(1..10, {true})`, "ranges (..) are not allowed", 1, 6},
		{KindPredicate, `session.cfield0 + session.cfield1 == "ab"`, "string concatenation (+) is not allowed", 1, 17},
		{KindFilter, `any(technician.skills, {# + "x" == "netx"})`, "string concatenation (+) is not allowed", 1, 27},
	} {
		_, err := Compile(tc.src, tc.kind)
		var ee *ExprError
		if !errors.As(err, &ee) {
			t.Errorf("Compile(%q) = %v, want an *ExprError", tc.src, err)
			continue
		}
		if !strings.Contains(ee.Message, tc.why) || ee.Line != tc.line || ee.Column != tc.column {
			t.Errorf("Compile(%q) = %q at %d:%d, want %q at %d:%d", tc.src, ee.Message, ee.Line, ee.Column, tc.why, tc.line, tc.column)
		}
		if tc.line != 0 && ee.Snippet == "" {
			t.Errorf("Compile(%q): no snippet", tc.src)
		}
	}
}

func TestCompileCachesBySource(t *testing.T) {
	a, err := Compile(`clock.hour > 8`, KindPredicate)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compile(`clock.hour > 8`, KindPredicate)
	c, _ := Compile(`clock.hour > 8`, KindFilter)
	if a != b {
		t.Error("the same source compiled twice")
	}
	if a == c || c.Kind() != KindFilter {
		t.Error("a predicate and a filter share a program")
	}
}

func TestProgramKindIsChecked(t *testing.T) {
	p, _ := Compile(`true`, KindPredicate)
	if _, err := p.Accept(&FilterEnv{}); err == nil {
		t.Error("a predicate ran as a filter")
	}
	f, _ := Compile(`true`, KindFilter)
	if _, err := f.Match(&Env{}); err == nil {
		t.Error("a filter ran as a predicate")
	}
}

func TestHM(t *testing.T) {
	p, err := Compile(`clock.minute_of_day >= hm("08:30") && clock.minute_of_day < hm("24:00")`, KindPredicate)
	if err != nil {
		t.Fatal(err)
	}
	for minute, want := range map[int]bool{509: false, 510: true, 1439: true} {
		ok, err := p.Match(&Env{Clock: ClockEnv{MinuteOfDay: minute}})
		if err != nil || ok != want {
			t.Errorf("minute %d: %v %v, want %v", minute, ok, err, want)
		}
	}
}
