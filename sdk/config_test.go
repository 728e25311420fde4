package sdk_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/tetherhq/tether/sdk"
)

type decodeHeader struct {
	Name  string `json:"name" validate:"required"`
	Value string `json:"value"`
}

type decodeAuth struct {
	User  string `json:"user"`
	Token string `json:"token" validate:"required,min=8"`
}

type decodeConfig struct {
	URL      string         `json:"url" validate:"required,url"`
	Format   string         `json:"format" validate:"required,oneof=xml form json"`
	Retries  int            `json:"retries" validate:"gte=0,lte=10"`
	Timeout  float64        `json:"timeout_secs,omitempty" validate:"omitempty,gt=0"`
	Notify   string         `json:"notify" validate:"omitempty,email"`
	Enabled  bool           `json:"enabled"`
	Auth     *decodeAuth    `json:"auth" validate:"omitempty"`
	Headers  []decodeHeader `json:"headers" validate:"max=2,dive"`
	Internal string         `json:"-"`
	NoTag    string         `validate:"omitempty,len=2"`
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		want       decodeConfig // checked when no error is expected
		wantMsg    string       // ConfigError.Message; "" = no error
		wantFields map[string]string
	}{
		{
			name: "valid",
			raw: `{"url":"https://crm.example.com/hook","format":"form","retries":3,"timeout_secs":2.5,
				"notify":"ops@example.com","enabled":true,"auth":{"user":"u","token":"12345678"},
				"headers":[{"name":"X-A","value":"1"}],"NoTag":"ab"}`,
			want: decodeConfig{URL: "https://crm.example.com/hook", Format: "form", Retries: 3, Timeout: 2.5,
				Notify: "ops@example.com", Enabled: true, Auth: &decodeAuth{User: "u", Token: "12345678"},
				Headers: []decodeHeader{{Name: "X-A", Value: "1"}}, NoTag: "ab"},
		},
		{
			name:       "empty settings are {}",
			raw:        ``,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"url": "required", "format": "required"},
		},
		{
			name:    "rules in words",
			raw:     `{"url":"crm","format":"yaml","retries":-1,"timeout_secs":0.0,"notify":"nobody","NoTag":"abc"}`,
			wantMsg: "invalid settings",
			wantFields: map[string]string{
				"url": "must be a URL", "format": "must be one of xml form json", "retries": "must be at least 0",
				"notify": "must be an e-mail address", "NoTag": "must be exactly 2 characters long",
			},
		},
		{
			name:       "upper bounds",
			raw:        `{"url":"https://x.example","format":"xml","retries":11,"headers":[{"name":"a"},{"name":"b"},{"name":"c"}]}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"retries": "must be at most 10", "headers": "must have at most 2 items"},
		},
		{
			name:       "nested keys",
			raw:        `{"url":"https://x.example","format":"xml","auth":{"token":"short"},"headers":[{"name":"a"},{"value":"v"}]}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"auth.token": "must be at least 8 characters long", "headers[1].name": "required"},
		},
		{
			name:       "unknown setting",
			raw:        `{"url":"https://x.example","format":"xml","ur1":"typo"}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"ur1": "unknown setting"},
		},
		{
			name:       "json:\"-\" field is not a setting",
			raw:        `{"url":"https://x.example","format":"xml","Internal":"x"}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"Internal": "unknown setting"},
		},
		{
			name:       "wrong type",
			raw:        `{"url":"https://x.example","format":"xml","retries":"3"}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"retries": "must be a whole number"},
		},
		{
			name:       "wrong nested type",
			raw:        `{"url":"https://x.example","format":"xml","auth":{"token":12345678}}`,
			wantMsg:    "invalid settings",
			wantFields: map[string]string{"auth.token": "must be a string"},
		},
		{name: "not JSON", raw: `{"url":}`, wantMsg: "settings are not valid JSON (at byte 8): invalid character '}' looking for beginning of value"},
		{name: "cut JSON", raw: `{"url":"https://x`, wantMsg: "settings are not valid JSON: unexpected end"},
		{name: "not an object", raw: `["url"]`, wantMsg: "settings must be a JSON object"},
		{name: "two objects", raw: `{"url":"https://x.example","format":"xml"} {}`, wantMsg: "settings must be a single JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got decodeConfig
			err := sdk.DecodeConfig(json.RawMessage(tt.raw), &got)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("DecodeConfig: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("decoded %+v, want %+v", got, tt.want)
				}
				return
			}
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want *sdk.ConfigError", err, err)
			}
			if ce.Message != tt.wantMsg {
				t.Errorf("Message = %q, want %q", ce.Message, tt.wantMsg)
			}
			if len(ce.Fields) != len(tt.wantFields) || (len(tt.wantFields) > 0 && !reflect.DeepEqual(ce.Fields, tt.wantFields)) {
				t.Errorf("Fields = %v, want %v", ce.Fields, tt.wantFields)
			}
		})
	}
}

func TestDecodeConfigIntoNonStruct(t *testing.T) {
	var m map[string]any
	if err := sdk.DecodeConfig(json.RawMessage(`{"a":1}`), &m); err != nil || m["a"] != 1.0 {
		t.Errorf("DecodeConfig into a map = %v, %v", m, err)
	}
	var c decodeConfig
	err := sdk.DecodeConfig(json.RawMessage(`{}`), c) // not a pointer: the plugin's bug, not the admin's
	var ce *sdk.ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("DecodeConfig into a non-pointer = %v, want a plain error", err)
	}
}

func TestConfigErrorText(t *testing.T) {
	tests := []struct {
		err  *sdk.ConfigError
		want string
	}{
		{&sdk.ConfigError{Message: "the service refused the token"}, "the service refused the token"},
		{&sdk.ConfigError{Message: "invalid settings", Fields: map[string]string{"url": "must be a URL", "format": "required"}},
			"invalid settings: format: required; url: must be a URL"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
