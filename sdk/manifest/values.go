package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Longest accepted values, in bytes.
const (
	maxStringValue = 4 << 10
	maxTextValue   = 64 << 10
)

// ValidateSettings checks a unit's settings against the schema and returns
// the problems keyed by setting key (empty when there are none). Values are
// read as encoding/json produces them (numbers as float64 or json.Number);
// a key that is missing or null takes its default, an empty string is a
// value (refused when required). Keys the schema does not name are refused.
func (m *Manifest) ValidateSettings(values map[string]any) map[string]string {
	errs := map[string]string{}
	for k := range values {
		if _, ok := m.Setting(k); !ok {
			errs[k] = "is not a setting of this plugin"
		}
	}
	for _, s := range m.Settings {
		v := values[s.Key]
		if v == nil {
			if s.Required && s.Default == nil {
				errs[s.Key] = "is required"
			}
			continue
		}
		// An empty string-like value means "none": fine unless required.
		if text, ok := v.(string); ok && text == "" && s.Type != Bool && s.Type != Int {
			if s.Required {
				errs[s.Key] = "is required"
			}
			continue
		}
		if _, why := s.check(v); why != "" {
			errs[s.Key] = why
		}
	}
	return errs
}

// WithDefaults returns a copy of values with every missing or null setting
// set to its default, and numbers of int settings turned into int64. Call it
// on values ValidateSettings accepted.
func (m *Manifest) WithDefaults(values map[string]any) map[string]any {
	out := make(map[string]any, len(m.Settings))
	for k, v := range values {
		out[k] = v
	}
	for _, s := range m.Settings {
		v := out[s.Key]
		if v == nil {
			if s.Default != nil {
				out[s.Key] = s.Default
			} else {
				delete(out, s.Key)
			}
			continue
		}
		if s.Type == Int {
			if n, why := integer(v); why == "" {
				out[s.Key] = n
			}
		}
	}
	return out
}

// check returns v as the setting's Go type, or why it is refused.
func (s Setting) check(v any) (any, string) {
	switch s.Type {
	case String, Secret:
		return str(v, maxStringValue)
	case Text:
		return str(v, maxTextValue)
	case URL:
		u, why := str(v, maxStringValue)
		if why != "" {
			return nil, why
		}
		if why := httpURL(u.(string)); why != "" {
			return nil, why
		}
		return u, ""
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return nil, "must be true or false"
		}
		return b, ""
	case Int:
		n, why := integer(v)
		if why != "" {
			return nil, why
		}
		if s.Min != nil && n < *s.Min {
			return nil, fmt.Sprintf("must be at least %d", *s.Min)
		}
		if s.Max != nil && n > *s.Max {
			return nil, fmt.Sprintf("must be at most %d", *s.Max)
		}
		return n, ""
	case Enum:
		e, ok := v.(string)
		if !ok {
			return nil, "must be a string"
		}
		for _, allowed := range s.Enum {
			if e == allowed {
				return e, ""
			}
		}
		return nil, "must be one of: " + strings.Join(s.Enum, ", ")
	}
	return nil, fmt.Sprintf("has an unknown type %q", s.Type)
}

func str(v any, max int) (any, string) {
	s, ok := v.(string)
	switch {
	case !ok:
		return nil, "must be a string"
	case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
		return nil, "must be valid UTF-8 text without NUL"
	case len(s) > max:
		return nil, fmt.Sprintf("must be at most %d bytes", max)
	}
	return s, ""
}

func httpURL(s string) string {
	const want = "must be an http or https URL such as https://example.com/hook"
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return want
	}
	if sc := strings.ToLower(u.Scheme); sc != "http" && sc != "https" {
		return want
	}
	return ""
}

// integer reads a whole number from what encoding/json or a Go caller
// produces.
func integer(v any) (int64, string) {
	const whole = "must be a whole number"
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, ""
		}
		f, err := n.Float64()
		if err != nil {
			return 0, whole
		}
		return integer(f)
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) || math.IsNaN(n) {
			return 0, whole
		}
		if n < math.MinInt64 || n >= math.MaxInt64 {
			return 0, "is out of range"
		}
		return int64(n), ""
	case int:
		return int64(n), ""
	case int32:
		return int64(n), ""
	case int64:
		return n, ""
	}
	return 0, whole
}
