package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/core/fault"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		pw   string
		want Strength
	}{
		{"Sampla12", Good},      // 3 classes, 'a' repeats
		{"Sample12", Complex},   // 3 classes, no repetition
		{"Sampla1%", Complex},   // 4 classes, 'a' repeats
		{"Sample1%", Excellent}, // 4 classes, no repetition
		{"Sampl1%", Weak},       // 7 characters
		{"", Weak},
		{"samplepw", Weak},     // 1 class
		{"sample12", Weak},     // 2 classes
		{"SAMPLE1%", Complex},  // upper, digit, special
		{"sample 1%", Complex}, // a space is special
		{"Ünïcödé1", Complex},  // Unicode letters have a case; 8 characters, not bytes
		{"Aa1!Aa1!", Complex},
		{"Pässwörd", Weak}, // lower and upper only
		{"Ab1!Cd2@", Excellent},
	}
	for _, tt := range tests {
		t.Run(tt.pw, func(t *testing.T) {
			if got := Classify(tt.pw); got != tt.want {
				t.Errorf("Classify(%q) = %s, want %s", tt.pw, got, tt.want)
			}
		})
	}
}

func TestStrengthNames(t *testing.T) {
	for s, name := range map[Strength]string{Weak: "weak", Good: "good", Complex: "complex", Excellent: "excellent"} {
		if s.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), name)
		}
		got, err := ParseStrength(name)
		if err != nil || got != s {
			t.Errorf("ParseStrength(%q) = %v, %v; want %v", name, got, err, s)
		}
	}
	if _, err := ParseStrength("Good"); err == nil {
		t.Error(`ParseStrength("Good") succeeded; names are lower case`)
	}
}

const weakAdvice = " (use lower case, upper case, digits and special characters without repeating characters)"

func TestPolicyCheck(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		pw     string
		want   string // the "password" field message, "" for accepted
	}{
		{"default accepts good", DefaultPolicy(), "Sampla12", ""},
		{"too short", DefaultPolicy(), "Sa1%", "must be at least 8 characters"},
		{"short in characters not bytes", DefaultPolicy(), "Ééé1%", "must be at least 8 characters"},
		{"too long", DefaultPolicy(), "Sample1%" + strings.Repeat("x", 249), "must be at most 256 characters"},
		{"longest accepted", DefaultPolicy(), "Sample1%" + strings.Repeat("x", 248), ""},
		{"weak under default", DefaultPolicy(), "sample12", "is too weak: it is weak, the policy requires good" + weakAdvice},
		{"good under complex", Policy{MinStrength: "complex"}, "Sampla12", "is too weak: it is good, the policy requires complex" + weakAdvice},
		{"complex under complex", Policy{MinStrength: "complex"}, "Sample12", ""},
		{"complex under excellent", Policy{MinStrength: "excellent"}, "Sampla1%", "is too weak: it is complex, the policy requires excellent" + weakAdvice},
		{"excellent under excellent", Policy{MinStrength: "excellent"}, "Sample1%", ""},
		{"unset minimum means good", Policy{}, "sample12", "is too weak: it is weak, the policy requires good" + weakAdvice},
		{"weak minimum is raised to good", Policy{MinStrength: "weak"}, "sample12", "is too weak: it is weak, the policy requires good" + weakAdvice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			assertField(t, err, "password", tt.want)
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		want   map[string]string
	}{
		{"default", DefaultPolicy(), nil},
		{"limits", Policy{MinStrength: "excellent", MaxAgeDays: 3650, ExpiryNoticeDays: 365}, nil},
		{"out of range", Policy{MinStrength: "weak", MaxAgeDays: -1, ExpiryNoticeDays: 366}, map[string]string{
			"min_strength":       "must be one of: good, complex, excellent",
			"max_age_days":       "must be at least 0",
			"expiry_notice_days": "must be at most 365",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertFields(t, tt.policy.Validate(), tt.want)
		})
	}
}

func TestPolicyExpiry(t *testing.T) {
	changed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	p := Policy{MinStrength: "good", MaxAgeDays: 90, ExpiryNoticeDays: 14}
	exp, ok := p.Expiry(changed)
	if !ok || !exp.Equal(changed.Add(90*day)) {
		t.Fatalf("Expiry = %v, %v; want %v, true", exp, ok, changed.Add(90*day))
	}
	if _, ok := DefaultPolicy().Expiry(changed); ok {
		t.Error("Expiry with max age 0 reported an expiry")
	}
	tests := []struct {
		name          string
		policy        Policy
		at            time.Duration // after the change
		expired, note bool
	}{
		{"fresh", p, day, false, false},
		{"just before notice", p, 76*day - time.Second, false, false},
		{"notice starts", p, 76 * day, false, true},
		{"last second", p, 90*day - time.Second, false, true},
		{"expired", p, 90 * day, true, false},
		{"no max age", DefaultPolicy(), 10000 * day, false, false},
		{"no notice", Policy{MaxAgeDays: 90}, 89 * day, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := changed.Add(tt.at)
			if got := tt.policy.Expired(changed, now); got != tt.expired {
				t.Errorf("Expired = %v, want %v", got, tt.expired)
			}
			if got := tt.policy.NoticeDue(changed, now); got != tt.note {
				t.Errorf("NoticeDue = %v, want %v", got, tt.note)
			}
		})
	}
}

// assertField checks that err is an Invalid fault about exactly field.
func assertField(t *testing.T, err error, field, why string) {
	t.Helper()
	assertFields(t, err, map[string]string{field: why})
}

// assertFields checks that err is an Invalid fault with exactly want, or nil when want is nil.
func assertFields(t *testing.T, err error, want map[string]string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || fe.Code != "validation_failed" {
		t.Fatalf("err = %v, want a validation fault", err)
	}
	if len(fe.Fields) != len(want) {
		t.Fatalf("fields = %v, want %v", fe.Fields, want)
	}
	for k, v := range want {
		if fe.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, fe.Fields[k], v)
		}
	}
}

// assertFault checks err's kind and code.
func assertFault(t *testing.T, err error, kind fault.Kind, code string) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != kind || fe.Code != code {
		t.Fatalf("err = %v, want fault kind %d code %q", err, kind, code)
	}
	return fe
}
