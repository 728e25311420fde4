package fault

import (
	"errors"
	"fmt"
	"net/mail"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

// Validator returns the shared validator, configured to name fields by their
// JSON names so that errors point at what the client sent.
func Validator() *validator.Validate {
	validateOnce.Do(func() {
		validate = validator.New(validator.WithRequiredStructEnabled())
		// "mailbox" accepts any RFC 5322 address without a display name,
		// including single-label domains such as admin@localhost that the
		// stricter "email" tag refuses.
		_ = validate.RegisterValidation("mailbox", func(fl validator.FieldLevel) bool {
			s := fl.Field().String()
			a, err := mail.ParseAddress(s)
			return err == nil && a.Address == s && a.Name == ""
		})
		validate.RegisterTagNameFunc(func(f reflect.StructField) string {
			name := strings.SplitN(f.Tag.Get("json"), ",", 2)[0]
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
	})
	return validate
}

// Validate checks v's `validate` tags and turns failures into an Invalid
// fault whose fields name the JSON path and the broken rule.
func Validate(v any) error {
	err := Validator().Struct(v)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	fields := make(map[string]string, len(verrs))
	for _, fe := range verrs {
		fields[fieldPath(fe)] = Rule(fe.Tag(), fe.Param(), fe.Kind())
	}
	return Fields(fields)
}

// fieldPath drops the top-level struct name: "Input.name" -> "name".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if i := strings.IndexByte(ns, '.'); i >= 0 {
		return ns[i+1:]
	}
	return ns
}

// Rule renders a validator tag as a sentence.
func Rule(tag, param string, kind reflect.Kind) string {
	unit := "characters"
	if kind == reflect.Slice || kind == reflect.Map || kind == reflect.Array {
		unit = "items"
	}
	numeric := kind >= reflect.Int && kind <= reflect.Float64
	switch tag {
	case "required":
		return "is required"
	case "email", "mailbox":
		return "must be a valid e-mail address"
	case "max":
		if numeric {
			return "must be at most " + param
		}
		return "must be at most " + param + " " + unit
	case "min":
		if numeric {
			return "must be at least " + param
		}
		return "must be at least " + param + " " + unit
	case "gte":
		return "must be at least " + param
	case "lte":
		return "must be at most " + param
	case "oneof":
		return "must be one of: " + strings.Join(strings.Fields(param), ", ")
	case "ip", "ipv4":
		return "must be an IP address"
	case "url", "http_url":
		return "must be a URL"
	case "printascii":
		return "must contain printable ASCII only"
	default:
		if param != "" {
			return "must satisfy " + tag + "=" + param
		}
		return "must satisfy " + tag
	}
}
