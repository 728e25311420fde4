package auth

import (
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tetherhq/tether/core/fault"
)

// Strength is how hard a password is to guess under AUTH-1.
type Strength int

const (
	Weak Strength = iota
	Good
	Complex
	Excellent
)

var strengthNames = [...]string{Weak: "weak", Good: "good", Complex: "complex", Excellent: "excellent"}

func (s Strength) String() string {
	if s < Weak || s > Excellent {
		return fmt.Sprintf("Strength(%d)", int(s))
	}
	return strengthNames[s]
}

// ParseStrength is the inverse of Strength.String.
func ParseStrength(s string) (Strength, error) {
	for i, name := range strengthNames {
		if s == name {
			return Strength(i), nil
		}
	}
	return Weak, fmt.Errorf("unknown password strength %q", s)
}

// Password length limits, in characters (runes). The maximum bounds the work
// an attacker can make the hasher do per request.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// Classify rates pw by the classes it uses (lower case, upper case, digit,
// anything else) and whether any character occurs twice.
func Classify(pw string) Strength {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return Weak
	}
	var lower, upper, digit, special bool
	seen := make(map[rune]bool, len(pw))
	repeats := false
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
		if seen[r] {
			repeats = true
		}
		seen[r] = true
	}
	classes := 0
	for _, present := range []bool{lower, upper, digit, special} {
		if present {
			classes++
		}
	}
	switch {
	case classes == 4 && !repeats:
		return Excellent
	case classes == 4, classes == 3 && !repeats:
		return Complex
	case classes == 3:
		return Good
	default:
		return Weak
	}
}

// Policy is the organisation-wide password policy (AUTH-1).
type Policy struct {
	MinStrength string `json:"min_strength" validate:"oneof=good complex excellent"`
	// MaxAgeDays is how long a password stays valid; 0 means forever.
	MaxAgeDays int `json:"max_age_days" validate:"gte=0,lte=3650"`
	// ExpiryNoticeDays is how long before expiry members are warned; 0 means never.
	ExpiryNoticeDays int `json:"expiry_notice_days" validate:"gte=0,lte=365"`
}

// DefaultPolicy is the policy of a new organisation.
func DefaultPolicy() Policy { return Policy{MinStrength: Good.String()} }

// Validate checks the policy's settings, naming fields by their JSON names.
func (p Policy) Validate() error { return fault.Validate(p) }

// required is the minimum strength; an unset or unknown value means Good so
// that a damaged setting never lets weak passwords through.
func (p Policy) required() Strength {
	s, err := ParseStrength(p.MinStrength)
	if err != nil || s < Good {
		return Good
	}
	return s
}

// Check refuses pw, as field "password", when it breaks the policy.
func (p Policy) Check(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLength {
		return fault.Field("password", fmt.Sprintf("must be at least %d characters", MinPasswordLength))
	}
	if n > MaxPasswordLength {
		return fault.Field("password", fmt.Sprintf("must be at most %d characters", MaxPasswordLength))
	}
	if got, want := Classify(pw), p.required(); got < want {
		return fault.Field("password", fmt.Sprintf("is too weak: it is %s, the policy requires %s "+
			"(use lower case, upper case, digits and special characters without repeating characters)", got, want))
	}
	return nil
}

// Expiry returns when a password changed at changedAt expires; ok is false
// when the policy sets no maximum age.
func (p Policy) Expiry(changedAt time.Time) (expiresAt time.Time, ok bool) {
	if p.MaxAgeDays <= 0 {
		return time.Time{}, false
	}
	return changedAt.Add(time.Duration(p.MaxAgeDays) * 24 * time.Hour), true
}

// Expired reports whether a password changed at changedAt has expired by now.
func (p Policy) Expired(changedAt, now time.Time) bool {
	exp, ok := p.Expiry(changedAt)
	return ok && !now.Before(exp)
}

// NoticeDue reports whether now falls in the notice window before the expiry
// of a password changed at changedAt (an expired password is past notice).
func (p Policy) NoticeDue(changedAt, now time.Time) bool {
	exp, ok := p.Expiry(changedAt)
	if !ok || p.ExpiryNoticeDays <= 0 {
		return false
	}
	start := exp.Add(-time.Duration(p.ExpiryNoticeDays) * 24 * time.Hour)
	return !now.Before(start) && now.Before(exp)
}
