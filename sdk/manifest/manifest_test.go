package manifest_test

import (
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

const posturl = `{
  "id": "posturl",
  "name": "Post to URL",
  "version": "1.4.0",
  "min_hub_version": "1.0.0",
  "executable": "bin/posturl",
  "description": "Posts session events to a URL.",
  "capabilities": ["events"],
  "events": ["session.closed", "message.*"],
  "settings": [
    {"key": "url", "type": "url", "label": "Target URL", "required": true, "scope": "channel"},
    {"key": "token", "type": "secret", "label": "Bearer token"},
    {"key": "format", "type": "enum", "label": "Format", "enum": ["json", "form"], "default": "json"},
    {"key": "timeout_seconds", "type": "int", "label": "Timeout", "min": 1, "max": 60, "default": 10},
    {"key": "verbose", "type": "bool", "label": "Verbose", "default": false},
    {"key": "note", "type": "text", "label": "Note", "help": "Shown to nobody."}
  ]
}`

func mustParse(t *testing.T, doc string) manifest.Manifest {
	t.Helper()
	m, err := manifest.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func TestParseValid(t *testing.T) {
	m := mustParse(t, posturl)
	if m.ID != "posturl" || m.Executable != "bin/posturl" || m.Bundled {
		t.Fatalf("parsed %+v", m)
	}
	tok, _ := m.Setting("token")
	if !tok.Secret {
		t.Error("a secret-typed setting must be marked secret")
	}
	to, _ := m.Setting("timeout_seconds")
	if to.Default != int64(10) || *to.Min != 1 || *to.Max != 60 {
		t.Errorf("timeout default/min/max = %#v %d %d", to.Default, *to.Min, *to.Max)
	}
	if m.Summary != "Posts session events to a URL." {
		t.Errorf("description = %q", m.Summary)
	}
	if d := m.Description(); !reflect.DeepEqual(d, sdk.Description{ID: "posturl", Name: "Post to URL", Version: "1.4.0"}) {
		t.Errorf("Description() = %+v", d)
	}
	// The catalogue stores the manifest as JSON: it must come back the same.
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	again := mustParse(t, string(data))
	if !reflect.DeepEqual(m, again) {
		t.Errorf("round trip changed the manifest:\n%+v\n%+v", m, again)
	}
}

func TestParseValidVariants(t *testing.T) {
	for name, doc := range map[string]string{
		"bundled":           `{"id":"surveys","name":"Surveys","version":"0.1.0-beta.2+build.7","bundled":true,"capabilities":["http","events"],"events":["session.closed"]}`,
		"routing files":     `{"id":"vip-routing","name":"VIP","version":"2.0.0","executable":"vip","capabilities":["routing"],"routing":["rules/vip.expr","rules/after-hours.expr"]}`,
		"routing, no files": `{"id":"rr","name":"R","version":"1.0.0","executable":"rr","capabilities":["routing"]}`,
		"codec":             `{"id":"rec","name":"Recording","version":"1.0.0","executable":"rec","capabilities":["codec"]}`,
	} {
		t.Run(name, func(t *testing.T) { mustParse(t, doc) })
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want map[string]string // path -> part of the message
	}{
		{"not json", `{"id":`, map[string]string{"plugin.json": "is not valid JSON"}},
		{"not an object", `[1]`, map[string]string{"plugin.json": "must be a JSON object"}},
		{"two values", `{} {}`, map[string]string{"plugin.json": "more than one"}},
		{"empty object", `{}`, map[string]string{
			"id": "is required", "name": "is required", "version": "is required",
			"executable": "is required unless bundled", "capabilities": "at least one",
		}},
		{"bad id, version, unknown field", `{"id":"Post_URL","name":"x","version":"1.0","executable":"x","capabilities":["events"],"events":["session.closed"],"homepage":"x"}`,
			map[string]string{"id": "lowercase letters", "version": "semantic version", "homepage": "is not a known field"}},
		{"one-letter id", `{"id":"p","name":"x","version":"1.0.0","executable":"x","capabilities":["http"]}`,
			map[string]string{"id": "2 to 40"}},
		{"leading zero and v prefix", `{"id":"pp","name":"x","version":"v1.0.0","min_hub_version":"1.02.0","executable":"x","capabilities":["http"]}`,
			map[string]string{"version": "semantic version", "min_hub_version": "leading zeros"}},
		{"executable and bundled", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","bundled":true,"capabilities":["http"]}`,
			map[string]string{"executable": "must be left out when bundled"}},
		{"escaping executable", `{"id":"pp","name":"x","version":"1.0.0","executable":"../../bin/sh","capabilities":["http"]}`,
			map[string]string{"executable": `".."`}},
		{"unclean executable", `{"id":"pp","name":"x","version":"1.0.0","executable":"./bin//x","capabilities":["http"]}`,
			map[string]string{"executable": "clean path"}},
		{"absolute executable", `{"id":"pp","name":"x","version":"1.0.0","executable":"/bin/sh","capabilities":["http"]}`,
			map[string]string{"executable": "relative"}},
		{"capabilities", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["events","teleport","events"]}`,
			map[string]string{"capabilities[1]": "must be one of", "capabilities[2]": "repeats", "events": "at least one event type"}},
		{"events without capability", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"],"events":["session.*","Session.Closed","*"]}`,
			map[string]string{"events": "needs the events capability", "events[1]": "event type", "events[2]": "event type"}},
		{"routing", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"],"routing":["/etc/passwd","ok.expr"]}`,
			map[string]string{"routing[0]": "relative", "routing": "needs the routing capability"}},
		{"settings", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"],"settings":[
			{"key":"url","type":"url","label":"URL","default":"ftp://x"},
			{"key":"url","type":"colour","label":"Again"},
			{"key":"level","type":"enum","label":"Level"},
			{"key":"n","type":"int","label":"N","min":10,"max":5,"default":2.5},
			{"key":"enabled","type":"bool","label":"On","enum":["a"],"min":1},
			{"key":"pw","type":"secret","label":"Password","default":"hunter2"},
			{"key":"flag","type":"bool","secret":true,"label":"Flag","scope":"technician"},
			{"key":"Bad Key","type":"string","label":"","colour":"red"},
			"nope"
		]}`,
			map[string]string{
				"settings[0].default": "http or https URL",
				"settings[1].key":     `repeats "url"`,
				"settings[1].type":    "must be one of",
				"settings[2].enum":    "must list the allowed values",
				"settings[3].max":     "must not be less than min (10)",
				"settings[3].default": "whole number",
				"settings[4].key":     "reserved",
				"settings[4].enum":    "only for enum",
				"settings[4].min":     "only for int",
				"settings[5].default": "cannot have a default",
				"settings[6].secret":  "only string, text, url and secret",
				"settings[6].scope":   "must be one of: org, group, channel",
				"settings[7].key":     "lowercase letters",
				"settings[7].label":   "is required",
				"settings[7].colour":  "is not a known field",
				"settings[8]":         "must be an object",
			}},
		{"wrong types", `{"id":7,"name":["x"],"version":"1.0.0","bundled":"yes","capabilities":"events","settings":{}}`,
			map[string]string{"id": "must be a string", "name": "must be a string", "bundled": "true or false",
				"capabilities": "must be a list", "settings": "must be a list"}},
		{"defaults of the wrong type", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"],"settings":[
			{"key":"n","type":"int","label":"N","default":"three"},
			{"key":"b","type":"bool","label":"B","default":"yes"},
			{"key":"s","type":"string","label":"S","default":5},
			{"key":"u","type":"url","label":"U","default":""},
			{"key":"e","type":"enum","label":"E","enum":["a"],"default":1}]}`,
			map[string]string{"settings[0].default": "whole number", "settings[1].default": "true or false",
				"settings[2].default": "must be a string", "settings[3].default": "http or https URL",
				"settings[4].default": "must be a string"}},
		{"bundled not true or false", `{"id":"pp","name":"x","version":"1.0.0","bundled":1,"capabilities":["http"]}`,
			map[string]string{"bundled": "true or false"}},
		{"default out of range", `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"],"settings":[
			{"key":"n","type":"int","label":"N","max":5,"default":6},
			{"key":"e","type":"enum","label":"E","enum":["a","b"],"default":"c"}]}`,
			map[string]string{"settings[0].default": "at most 5", "settings[1].default": "must be one of: a, b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := manifest.Parse([]byte(tt.doc))
			var fe *manifest.Error
			if !errors.As(err, &fe) || fe.Code != manifest.CodeInvalid || fe.Message != "plugin.json is not valid." {
				t.Fatalf("got %v, want an invalid_manifest *manifest.Error", err)
			}
			for path, part := range tt.want {
				if !strings.Contains(fe.Fields[path], part) {
					t.Errorf("%s = %q, want it to mention %q", path, fe.Fields[path], part)
				}
			}
			for path, why := range fe.Fields {
				if _, expected := tt.want[path]; !expected {
					t.Errorf("unexpected problem %s: %s", path, why)
				}
			}
		})
	}
}

func TestErrorNamesEveryProblem(t *testing.T) {
	_, err := manifest.Parse([]byte(`{"id":"pp","name":"x","version":"1","executable":"x","capabilities":["mail"]}`))
	want := `invalid_manifest: plugin.json is not valid. (capabilities: must list at least one of: events, http, codec, routing; ` +
		`capabilities[0]: must be one of: events, http, codec, routing; version: must be a semantic version such as 1.4.0: "1" is not MAJOR.MINOR.PATCH)`
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %v\nwant       %s", err, want)
	}
}

func TestSubscribes(t *testing.T) {
	m := mustParse(t, posturl)
	for event, want := range map[string]bool{
		"session.closed":    true,
		"session.picked_up": false,
		"message.chat":      true,
		"message.":          false, // the wildcard needs something after the prefix
		"message":           false,
		"messages.chat":     false,
		"":                  false,
	} {
		if got := m.Subscribes(event); got != want {
			t.Errorf("Subscribes(%q) = %v, want %v", event, got, want)
		}
	}
	http := mustParse(t, `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"]}`)
	if http.Subscribes("session.closed") {
		t.Error("a plugin without the events capability subscribes to nothing")
	}
}

func TestCompatibleWith(t *testing.T) {
	m := mustParse(t, strings.Replace(posturl, `"1.0.0"`, `"1.2.0"`, 1))
	for hub, ok := range map[string]bool{
		"1.2.0":                    true,
		"v1.2.0":                   true,
		"1.10.0":                   true,
		"2.0.0":                    true,
		"1.2.0-rc.1":               false, // a pre-release comes before its release
		"1.1.9":                    false,
		"0.9.0":                    false,
		"dev":                      true,
		"":                         true,
		"v1.3.0-0.20261125-abcdef": true,
	} {
		err := m.CompatibleWith(hub)
		if (err == nil) != ok {
			t.Errorf("CompatibleWith(%q) = %v, want ok=%v", hub, err, ok)
		}
		var me *manifest.Error
		if err != nil && (!errors.As(err, &me) || me.Code != manifest.CodeHubTooOld ||
			!strings.Contains(me.Fields["min_hub_version"], "needs Tether 1.2.0 or newer; this hub is "+hub)) {
			t.Errorf("CompatibleWith(%q) = %v, want a hub_too_old *manifest.Error on min_hub_version", hub, err)
		}
	}
	for v, want := range map[string]bool{"1.2.0": true, "v1.2.0-rc.1": true, "v0.0.0-20261125-abcdef": true, "e2e-test": false, "dev": false, "": false} {
		if got := manifest.IsVersion(v); got != want {
			t.Errorf("IsVersion(%q) = %v, want %v", v, got, want)
		}
	}
	if err := m.CompatibleWith("banana"); err == nil || !strings.Contains(err.Error(), "banana") {
		t.Errorf("unparseable hub version: %v", err)
	}
	none := mustParse(t, `{"id":"pp","name":"x","version":"1.0.0","executable":"x","capabilities":["http"]}`)
	if err := none.CompatibleWith("0.0.1"); err != nil {
		t.Errorf("no min_hub_version: %v", err)
	}
}

func TestValidateSettings(t *testing.T) {
	m := mustParse(t, posturl)
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name   string
		values map[string]any
		want   map[string]string
	}{
		{"minimal", map[string]any{"url": "https://crm.example.com/hook"}, nil},
		{"all", map[string]any{"url": "http://10.0.0.1:8080/x", "token": "s3cret", "format": "form",
			"timeout_seconds": num("30"), "verbose": true, "note": "a\nb"}, nil},
		{"float whole number", map[string]any{"url": "https://x.example", "timeout_seconds": float64(5)}, nil},
		{"nulls take defaults", map[string]any{"url": "https://x.example", "format": nil, "timeout_seconds": nil}, nil},
		{"empty optional", map[string]any{"url": "https://x.example", "token": "", "note": ""}, nil},
		{"missing required", map[string]any{}, map[string]string{"url": "is required"}},
		{"empty required", map[string]any{"url": ""}, map[string]string{"url": "is required"}},
		{"bad everything", map[string]any{"url": "javascript:alert(1)", "token": 5, "format": "xml",
			"timeout_seconds": num("61"), "verbose": "yes", "colour": "red"},
			map[string]string{"url": "http or https", "token": "must be a string", "format": "must be one of: json, form",
				"timeout_seconds": "at most 60", "verbose": "true or false", "colour": "not a setting"}},
		{"fractions and floors", map[string]any{"url": "ftp://x.example/", "timeout_seconds": 0.5},
			map[string]string{"url": "http or https", "timeout_seconds": "whole number"}},
		{"below min", map[string]any{"url": "https://x.example", "timeout_seconds": 0},
			map[string]string{"timeout_seconds": "at least 1"}},
		{"url without host", map[string]any{"url": "https:///path"}, map[string]string{"url": "http or https"}},
		{"empty bool", map[string]any{"url": "https://x.example", "verbose": ""}, map[string]string{"verbose": "true or false"}},
		{"too long", map[string]any{"url": "https://x.example", "token": strings.Repeat("x", 5000)},
			map[string]string{"token": "at most 4096 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.ValidateSettings(tt.values)
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, part := range tt.want {
				if !strings.Contains(got[k], part) {
					t.Errorf("%s = %q, want it to mention %q", k, got[k], part)
				}
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	m := mustParse(t, posturl)
	in := map[string]any{"url": "https://x.example", "timeout_seconds": json.Number("30"), "format": nil, "note": ""}
	got := m.WithDefaults(in)
	want := map[string]any{"url": "https://x.example", "timeout_seconds": int64(30), "format": "json", "verbose": false, "note": ""}
	if !maps.Equal(got, want) {
		t.Errorf("WithDefaults = %#v, want %#v", got, want)
	}
	if in["format"] != nil {
		t.Error("WithDefaults changed its input")
	}
}
