package sdk_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/tetherhq/tether/sdk"
)

const validManifest = `{
  "id": "posturl",
  "name": "Post to URL",
  "version": "1.2.0",
  "min_hub_version": "0.9.0",
  "executable": "bin/posturl",
  "capabilities": ["events", "routing"],
  "events": ["session.closed", "session.picked_up"],
  "settings": [
    {"key": "url", "type": "url", "label": "Receiver URL", "required": true, "scope": "channel"},
    {"key": "format", "type": "string", "label": "Format", "enum": ["xml", "form", "json"], "default": "json", "scope": "group"},
    {"key": "token", "type": "string", "label": "Token", "secret": true, "scope": "org"},
    {"key": "retries", "type": "int", "label": "Retries", "default": 3, "scope": "org"}
  ],
  "routing_files": ["rules/vip.expr"]
}`

func TestParseManifest(t *testing.T) {
	m, err := sdk.ParseManifest([]byte(validManifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "posturl" || len(m.Settings) != 4 || !m.Settings[2].Secret || m.Settings[1].Enum[2] != "json" ||
		string(m.Settings[3].Default) != "3" || m.RoutingFiles[0] != "rules/vip.expr" {
		t.Errorf("parsed %+v", m)
	}
	if d := m.Description(); !reflect.DeepEqual(d, sdk.Description{ID: "posturl", Name: "Post to URL", Version: "1.2.0"}) {
		t.Errorf("Description = %+v", d)
	}

	tests := []struct {
		name    string
		edit    func(string) string
		wantKey string
		wantMsg string
	}{
		{"bad id", repl(`"id": "posturl"`, `"id": "Post URL"`), "id", "lower-case"},
		{"no version", repl(`"version": "1.2.0",`, ``), "version", "required"},
		{"bad version", repl(`"version": "1.2.0"`, `"version": "v1"`), "version", "must be a version such as 1.2.3"},
		{"both executable and bundled", repl(`"executable": "bin/posturl",`, `"executable": "bin/posturl", "bundled": true,`), "executable", "exactly one"},
		{"neither executable nor bundled", repl(`"executable": "bin/posturl",`, ``), "executable", "exactly one"},
		{"unknown capability", repl(`["events", "routing"]`, `["events", "routing", "email"]`), "capabilities[2]", "must be one of events http codec routing"},
		{"events without the capability", repl(`["events", "routing"]`, `["routing"]`), "events", `only with capability "events"`},
		{"bad event type", repl(`"session.picked_up"`, `"PickedUp"`), "events[1]", "event type"},
		{"routing files without the capability", repl(`["events", "routing"]`, `["events"]`), "routing_files", `only with capability "routing"`},
		{"bad scope", repl(`"scope": "channel"`, `"scope": "unit"`), "settings[0].scope", "must be one of org group channel"},
		{"bad type", repl(`"type": "url"`, `"type": "password"`), "settings[0].type", "must be one of"},
		{"duplicate key", repl(`"key": "token"`, `"key": "url"`), "settings[2].key", "used twice"},
		{"bad key", repl(`"key": "token"`, `"key": "API Token"`), "settings[2].key", "lower-case"},
		{"default of the wrong type", repl(`"default": 3`, `"default": "three"`), "settings[3].default", "must be of type int"},
		{"default outside enum", repl(`"default": "json"`, `"default": "yaml"`), "settings[1].default", "one of enum"},
		{"enum on a non-string", repl(`"type": "int", "label": "Retries"`, `"type": "int", "label": "Retries", "enum": ["1"]`), "settings[3].enum", `only with type "string"`},
		{"unknown field", repl(`"name":`, `"nmae": "x", "name":`), "nmae", "unknown setting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sdk.ParseManifest([]byte(tt.edit(validManifest)))
			var ce *sdk.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *sdk.ConfigError", err)
			}
			if ce.Message != "invalid manifest" || !strings.Contains(ce.Fields[tt.wantKey], tt.wantMsg) {
				t.Errorf("error = %v, want %s: ...%s...", err, tt.wantKey, tt.wantMsg)
			}
		})
	}
}

func repl(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("test edit does not apply: " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}
