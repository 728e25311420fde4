package fault

import (
	"testing"
)

func TestValidateNamesJSONFieldsAndRules(t *testing.T) {
	type inner struct {
		Port int `json:"port" validate:"gte=1,lte=65535"`
	}
	type input struct {
		Name  string   `json:"name" validate:"required,max=5"`
		Email string   `json:"email" validate:"omitempty,email"`
		Mode  string   `json:"mode" validate:"oneof=a b"`
		Tags  []string `json:"tags" validate:"max=1"`
		Inner inner    `json:"inner"`
	}
	tests := []struct {
		name string
		in   input
		want map[string]string
	}{
		{"valid", input{Name: "ok", Mode: "a", Inner: inner{Port: 80}}, nil},
		{"missing name", input{Mode: "a", Inner: inner{Port: 1}}, map[string]string{"name": "is required"}},
		{"too long", input{Name: "toolong", Mode: "b", Inner: inner{Port: 1}}, map[string]string{"name": "must be at most 5 characters"}},
		{"bad email and mode", input{Name: "x", Email: "nope", Mode: "c", Inner: inner{Port: 1}},
			map[string]string{"email": "must be a valid e-mail address", "mode": "must be one of: a, b"}},
		{"nested and slice", input{Name: "x", Mode: "a", Tags: []string{"1", "2"}, Inner: inner{Port: 0}},
			map[string]string{"tags": "must be at most 1 items", "inner.port": "must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.in)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			fe, ok := As(err)
			if !ok || fe.Kind != Invalid || fe.Code != "validation_failed" {
				t.Fatalf("got %v, want validation fault", err)
			}
			if len(fe.Fields) != len(tt.want) {
				t.Fatalf("fields = %v, want %v", fe.Fields, tt.want)
			}
			for k, v := range tt.want {
				if fe.Fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, fe.Fields[k], v)
				}
			}
		})
	}
}

func TestMailbox(t *testing.T) {
	type in struct {
		Email string `json:"email" validate:"mailbox"`
	}
	for addr, ok := range map[string]bool{
		"admin@localhost":         true,
		"tina@example.com":        true,
		"Tina <tina@example.com>": false,
		"nope":                    false,
		"two@@example.com":        false,
		"":                        false,
	} {
		err := Validate(in{addr})
		if (err == nil) != ok {
			t.Errorf("mailbox %q: err = %v, want ok = %v", addr, err, ok)
		}
	}
}
