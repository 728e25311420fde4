package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/go-playground/validator/v10"
)

// ConfigError is a refusal of settings: a message for the whole form and,
// per field, what is wrong with it. Fields is keyed by the JSON name of the
// setting ("url", "auth.token", "headers[1].name") so the admin centre can
// show each error beside its input.
type ConfigError struct {
	Message string
	Fields  map[string]string
}

func (e *ConfigError) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(e.Message)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", k, e.Fields[k])
	}
	return b.String()
}

// invalidSettings is ConfigError.Message when the fields say it all.
const invalidSettings = "invalid settings"

// validate is shared: validator caches what it learns of each struct type,
// and it is safe for concurrent use.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			return ""
		case "":
			return f.Name
		}
		return name
	})
	return v
}()

// DecodeConfig decodes a unit's settings (Event.Config, ConfigureRequest.
// Settings) into dst, a pointer to the plugin's config struct, and checks
// its `validate:"..."` tags (go-playground/validator). Unknown settings are
// refused, so a typo in a manifest key fails at Configure, not silently at
// the first event. Empty settings decode as {}.
//
// Settings that are wrong come back as a *ConfigError; any other error
// means dst is not a pointer to a struct.
func DecodeConfig(raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &ConfigError{Message: "settings must be a single JSON object"}
	}
	if rv := reflect.ValueOf(dst); rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil
	}
	err := validate.Struct(dst)
	var verrs validator.ValidationErrors
	if errors.As(err, &verrs) {
		ce := &ConfigError{Message: invalidSettings, Fields: make(map[string]string, len(verrs))}
		for _, fe := range verrs {
			key := fe.Namespace()
			if _, rest, ok := strings.Cut(key, "."); ok {
				key = rest // drop the root struct's type name
			}
			if _, seen := ce.Fields[key]; !seen {
				ce.Fields[key] = ruleText(fe)
			}
		}
		return ce
	}
	if err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var inv *json.InvalidUnmarshalError
	switch {
	case errors.As(err, &inv):
		return fmt.Errorf("decode config: %w", err)
	case errors.As(err, &syn):
		return &ConfigError{Message: fmt.Sprintf("settings are not valid JSON (at byte %d): %v", syn.Offset, err)}
	case errors.As(err, &typ):
		if typ.Field == "" {
			return &ConfigError{Message: "settings must be a JSON object"}
		}
		return &ConfigError{Message: invalidSettings, Fields: map[string]string{typ.Field: "must be " + kindText(typ.Type)}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ConfigError{Message: "settings are not valid JSON: unexpected end"}
	}
	// encoding/json has no type for unknown fields, only this text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ConfigError{Message: invalidSettings, Fields: map[string]string{strings.Trim(name, `"`): "unknown setting"}}
	}
	return &ConfigError{Message: "settings: " + err.Error()}
}

func kindText(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// ruleText says in words what a failed validator rule asks for.
func ruleText(fe validator.FieldError) string {
	p := fe.Param()
	switch fe.Tag() {
	case "required", "required_if", "required_unless", "required_with", "required_with_all",
		"required_without", "required_without_all":
		return "required"
	case "url", "http_url", "https_url", "uri":
		return "must be a URL"
	case "email":
		return "must be an e-mail address"
	case "oneof":
		return "must be one of " + p
	case "hostname", "hostname_rfc1123", "fqdn":
		return "must be a host name"
	case "hostname_port":
		return "must be host:port"
	case "ip", "ipv4", "ipv6":
		return "must be an IP address"
	case "cidr":
		return "must be a network in CIDR notation"
	case "uuid", "uuid4":
		return "must be a UUID"
	case "alphanum":
		return "must contain only letters and digits"
	case "semver":
		return "must be a version such as 1.2.3"
	case "startswith":
		return fmt.Sprintf("must start with %q", p)
	case "min", "gte":
		return sizeText(fe, "at least", p)
	case "max", "lte":
		return sizeText(fe, "at most", p)
	case "gt":
		return sizeText(fe, "more than", p)
	case "lt":
		return sizeText(fe, "less than", p)
	case "len":
		return sizeText(fe, "exactly", p)
	}
	if p != "" {
		return fmt.Sprintf("fails rule %s=%s", fe.Tag(), p)
	}
	return "fails rule " + fe.Tag()
}

func sizeText(fe validator.FieldError, rel, n string) string {
	switch fe.Kind() {
	case reflect.String:
		return fmt.Sprintf("must be %s %s characters long", rel, n)
	case reflect.Slice, reflect.Array, reflect.Map:
		return fmt.Sprintf("must have %s %s items", rel, n)
	}
	if rel == "exactly" {
		return "must be " + n
	}
	return fmt.Sprintf("must be %s %s", rel, n)
}
