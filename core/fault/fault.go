// Package fault defines the user-facing error every core package returns when
// a request is refused: a stable code, a readable message, the offending
// fields, and the kind that the HTTP layer maps to a status code.
// It knows nothing of HTTP itself.
package fault

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Kind classifies a refusal; httpapi maps each kind to one status code.
type Kind int

const (
	Invalid      Kind = iota + 1 // 422: well-formed request, values break a rule
	BadRequest                   // 400: malformed request (bad JSON, wrong type)
	Unauthorized                 // 401: no or bad credentials
	Forbidden                    // 403: authenticated but not allowed
	NotFound                     // 404
	Conflict                     // 409: clashes with stored state (duplicate email...)
	TooMany                      // 429: throttled
)

// Error is a refusal meant to be shown to the user.
type Error struct {
	Kind    Kind
	Code    string            // stable, machine-readable: "validation_failed", "out_of_scope"
	Message string            // one readable sentence
	Fields  map[string]string // field name -> why it was refused
	// RetryAfterSeconds is set on TooMany errors.
	RetryAfterSeconds int
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Code + ": " + e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return e.Code + ": " + e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var fe *Error
	if errors.As(err, &fe) {
		return fe, true
	}
	return nil, false
}

// IsKind reports whether err is a fault of the given kind.
func IsKind(err error, k Kind) bool {
	fe, ok := As(err)
	return ok && fe.Kind == k
}

// New builds an error of any kind.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field builds a validation error about a single field.
func Field(field, why string) *Error {
	return &Error{Kind: Invalid, Code: "validation_failed", Message: "The request has invalid fields.", Fields: map[string]string{field: why}}
}

// Fields builds a validation error about several fields.
func Fields(fields map[string]string) *Error {
	return &Error{Kind: Invalid, Code: "validation_failed", Message: "The request has invalid fields.", Fields: fields}
}

// NotFoundf reports a missing thing, e.g. NotFoundf("group", "no technician group %d", id).
func NotFoundf(what, format string, args ...any) *Error {
	return &Error{Kind: NotFound, Code: what + "_not_found", Message: fmt.Sprintf(format, args...)}
}

// OutOfScope is the refusal for a unit outside the caller's scope (ORG-3).
func OutOfScope(format string, args ...any) *Error {
	return &Error{Kind: Forbidden, Code: "out_of_scope", Message: fmt.Sprintf(format, args...)}
}

// Forbiddenf refuses an action the caller's role does not allow.
func Forbiddenf(code, format string, args ...any) *Error {
	return &Error{Kind: Forbidden, Code: code, Message: fmt.Sprintf(format, args...)}
}
