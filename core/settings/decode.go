package settings

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/tetherhq/tether/core/fault"
)

// decodeValue turns a submitted value into the section's struct: strict JSON
// onto the defaults, then the validate tags, then the section's own check.
func decodeValue(sec Section, raw json.RawMessage) (any, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, fault.Field("value", "is required")
	}
	if !json.Valid(trimmed) {
		fe := fault.New(fault.BadRequest, "invalid_json", "The value is not valid JSON.")
		fe.Fields = map[string]string{"value": "is not valid JSON"}
		return nil, fe
	}
	v := sec.New()
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, shapeError(trimmed, reflect.TypeOf(v), err)
	}
	if err := fault.Validate(v); err != nil {
		return nil, err
	}
	if sec.Validate != nil {
		if err := sec.Validate(v); err != nil {
			if _, ok := fault.As(err); ok {
				return nil, err
			}
			return nil, fault.Field("value", err.Error())
		}
	}
	return v, nil
}

// shapeError explains why encoding/json refused a value. encoding/json names
// an unknown field without its path and a mistyped one without list
// indexes, so the document is walked again to name every problem the way
// fault.Validate names fields ("exceptions[1].mask").
func shapeError(data []byte, t reflect.Type, err error) error {
	fields := map[string]string{}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&doc) == nil {
		locate(doc, t, "", fields)
	}
	if len(fields) == 0 {
		fields = fieldsFromJSONError(err)
	}
	fe := fault.Fields(fields)
	fe.Kind = fault.BadRequest
	return fe
}

func fieldsFromJSONError(err error) map[string]string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return map[string]string{pathOr(te.Field): expected(te.Type)}
	}
	if name, ok := strings.CutPrefix(err.Error(), `json: unknown field "`); ok {
		return map[string]string{strings.TrimSuffix(name, `"`): "is not a known field"}
	}
	return map[string]string{"value": "cannot be read: " + err.Error()}
}

func pathOr(p string) string {
	if p == "" {
		return "value"
	}
	return p
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// locate records in out every unknown field and every value of the wrong
// type in doc (decoded with UseNumber), checked against t.
func locate(doc any, t reflect.Type, path string, out map[string]string) {
	if doc == nil { // null leaves any Go value as it is
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return // its own rules; encoding/json's message stands
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		if _, ok := doc.(string); !ok {
			out[pathOr(path)] = "must be a string"
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			out[pathOr(path)] = expected(t)
			return
		}
		fields := jsonFields(t)
		for key, val := range obj {
			f, ok := matchField(fields, key)
			if !ok {
				out[join(path, key)] = "is not a known field"
				continue
			}
			if !f.quoted {
				locate(val, f.typ, join(path, f.name), out)
			}
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			out[pathOr(path)] = expected(t)
			return
		}
		for key, val := range obj {
			locate(val, t.Elem(), path+"["+key+"]", out)
		}
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			if _, ok := doc.(string); ok { // base64
				return
			}
		}
		list, ok := doc.([]any)
		if !ok {
			out[pathOr(path)] = expected(t)
			return
		}
		for i, el := range list {
			locate(el, t.Elem(), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.String:
		if _, ok := doc.(string); !ok {
			out[pathOr(path)] = expected(t)
		}
	case reflect.Bool:
		if _, ok := doc.(bool); !ok {
			out[pathOr(path)] = expected(t)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		n, ok := doc.(json.Number)
		if !ok {
			out[pathOr(path)] = expected(t)
			return
		}
		if why := numberProblem(n.String(), t); why != "" {
			out[pathOr(path)] = why
		}
	}
}

func numberProblem(n string, t reflect.Type) string {
	integral := !strings.ContainsAny(n, ".eE")
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if _, err := strconv.ParseFloat(n, t.Bits()); err != nil {
			return "is out of range"
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		switch _, err := strconv.ParseUint(n, 10, t.Bits()); {
		case err == nil:
		case !integral:
			return "must be a whole number"
		case strings.HasPrefix(n, "-"):
			return "must not be negative"
		default:
			return "is out of range"
		}
	default:
		switch _, err := strconv.ParseInt(n, 10, t.Bits()); {
		case err == nil:
		case !integral:
			return "must be a whole number"
		default:
			return "is out of range"
		}
	}
	return ""
}

// expected says which JSON type a Go type is read from.
func expected(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return "must be a number"
	case reflect.Slice, reflect.Array:
		return "must be a list"
	case reflect.Struct, reflect.Map:
		return "must be an object"
	default:
		return "has the wrong type"
	}
}

type jsonField struct {
	name   string
	typ    reflect.Type
	quoted bool // `json:",string"`: a number or bool inside a string
}

// jsonFields lists the JSON fields of a struct as encoding/json sees them,
// with untagged embedded structs flattened.
func jsonFields(t reflect.Type) []jsonField {
	var fs []jsonField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				fs = append(fs, jsonFields(ft)...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		quoted := false
		for o := range strings.SplitSeq(opts, ",") {
			quoted = quoted || o == "string"
		}
		fs = append(fs, jsonField{name: name, typ: sf.Type, quoted: quoted})
	}
	return fs
}

// matchField finds a key the way encoding/json does: exactly, else
// ignoring case.
func matchField(fs []jsonField, key string) (jsonField, bool) {
	for _, f := range fs {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return jsonField{}, false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
