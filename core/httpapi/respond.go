package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/tetherhq/tether/core/fault"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// errorBody is the one error shape of the API.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

var statusOf = map[fault.Kind]int{
	fault.Invalid:      http.StatusUnprocessableEntity,
	fault.BadRequest:   http.StatusBadRequest,
	fault.Unauthorized: http.StatusUnauthorized,
	fault.Forbidden:    http.StatusForbidden,
	fault.NotFound:     http.StatusNotFound,
	fault.Conflict:     http.StatusConflict,
	fault.TooMany:      http.StatusTooManyRequests,
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// writeError renders err in the API's error shape. Faults keep their code
// and fields; anything else is logged and answered 500 without details.
func writeError(w http.ResponseWriter, r *http.Request, log hclog.Logger, err error) {
	fe, ok := fault.As(err)
	if !ok {
		log.Error("request failed", "method", r.Method, "route", r.Pattern, "error", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal", Message: "Something went wrong on the server; it has been logged."}})
		return
	}
	status := statusOf[fe.Kind]
	if status == 0 {
		status = http.StatusBadRequest
	}
	if fe.Kind == fault.TooMany && fe.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(fe.RetryAfterSeconds))
	}
	if fe.Kind == fault.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tether"`)
	}
	writeJSON(w, status, errorBody{errorDetail{Code: fe.Code, Message: fe.Message, Fields: fe.Fields}})
}

// decodeJSON reads a JSON object into dst strictly: the content type must be
// JSON, unknown fields are refused and type mismatches name the field.
func decodeJSON(r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &fault.Error{Kind: fault.BadRequest, Code: "unsupported_media_type",
			Message: "Send the request body as JSON with Content-Type: application/json."}
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonFault(err)
	}
	if dec.More() {
		return &fault.Error{Kind: fault.BadRequest, Code: "bad_json", Message: "The body must hold exactly one JSON object."}
	}
	return nil
}

func jsonFault(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return &fault.Error{Kind: fault.BadRequest, Code: "bad_json", Message: "The body must be a JSON object."}
		}
		return &fault.Error{Kind: fault.BadRequest, Code: "wrong_type", Message: "A field has the wrong type.",
			Fields: map[string]string{field: "must be " + jsonKind(typeErr.Type.Kind().String())}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &fault.Error{Kind: fault.BadRequest, Code: "unknown_field", Message: "The body has a field this endpoint does not know.",
			Fields: map[string]string{name: "is not a known field"}}
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &fault.Error{Kind: fault.BadRequest, Code: "bad_json", Message: "The body is not valid JSON."}
	case errors.Is(err, io.EOF):
		return &fault.Error{Kind: fault.BadRequest, Code: "bad_json", Message: "The request body is empty; send a JSON object."}
	default:
		return &fault.Error{Kind: fault.BadRequest, Code: "bad_json", Message: fmt.Sprintf("The body could not be read: %v.", err)}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	default:
		return "of type " + goKind
	}
}

// pathID parses a numeric path parameter or answers 404.
func pathID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.NotFoundf("unit", "No unit with id %q.", v)
	}
	return id, nil
}

// reply writes a handler's result as JSON with status, or passes its error
// on: `return reply(w, http.StatusOK)(a.Org.Member(ctx, sc, id))`.
func reply(w http.ResponseWriter, status int) func(v any, err error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, status, v)
		return nil
	}
}
