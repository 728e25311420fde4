package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// ManifestFile is the manifest's file name in a plugin directory or bundle.
const ManifestFile = "plugin.json"

// Manifest is a plugin's plugin.json: what the hub knows about a plugin
// before it runs it. The admin centre draws the settings form from
// Settings; the host checks Describe's answer against ID, Version and
// Capabilities.
type Manifest struct {
	ID            string `json:"id" validate:"required"`
	Name          string `json:"name" validate:"required"`
	Version       string `json:"version" validate:"required,semver"`
	MinHubVersion string `json:"min_hub_version,omitempty" validate:"omitempty,semver"`
	// Executable is the plugin binary's path inside the plugin directory;
	// Bundled instead says the plugin is compiled into the tether binary
	// (run as "tether plugin run <id>"). Exactly one is set.
	Executable   string    `json:"executable,omitempty"`
	Bundled      bool      `json:"bundled,omitempty"`
	Capabilities []string  `json:"capabilities" validate:"required,min=1,dive,oneof=events http codec routing"`
	Events       []string  `json:"events,omitempty"`
	Settings     []Setting `json:"settings,omitempty" validate:"dive"`
	// RoutingFiles are rule files inside the plugin directory (capability
	// "routing"), offered to admins as channel rules.
	RoutingFiles []string `json:"routing_files,omitempty"`
}

// Setting is one input of a plugin's settings form.
type Setting struct {
	Key      string          `json:"key" validate:"required"`
	Type     string          `json:"type" validate:"required,oneof=string text int number bool url"`
	Label    string          `json:"label" validate:"required"`
	Help     string          `json:"help,omitempty"`
	Required bool            `json:"required,omitempty"`
	Secret   bool            `json:"secret,omitempty"` // never shown back once saved
	Default  json.RawMessage `json:"default,omitempty"`
	Enum     []string        `json:"enum,omitempty"` // with type string: the allowed values
	// Scope is the narrowest unit the setting can be set on: "org" (once),
	// "group" (per technician group) or "channel" (per channel).
	Scope string `json:"scope" validate:"required,oneof=org group channel"`
}

var (
	manifestIDRE  = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)
	settingKeyRE  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	eventTypeRE   = regexp.MustCompile(`^[a-z_]+\.[a-z_]+$`)
	settingGoType = map[string]func() any{
		"string": func() any { return new(string) },
		"text":   func() any { return new(string) },
		"url":    func() any { return new(string) },
		"int":    func() any { return new(int64) },
		"number": func() any { return new(float64) },
		"bool":   func() any { return new(bool) },
	}
)

// ParseManifest decodes and checks a plugin.json. What is wrong comes back
// as a *ConfigError keyed by JSON path ("settings[2].scope"), the form a
// `tether plugin install` shows.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	if err := DecodeConfig(data, &m); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Message == invalidSettings {
			ce.Message = "invalid manifest"
		}
		return Manifest{}, err
	}
	fields := map[string]string{}
	if !manifestIDRE.MatchString(m.ID) {
		fields["id"] = "must be 2-40 lower-case letters, digits or dashes, starting with a letter"
	}
	if (m.Executable == "") == !m.Bundled {
		fields["executable"] = "exactly one of executable and bundled must be set"
	}
	hasEvents := slices.Contains(m.Capabilities, CapEvents)
	switch {
	case hasEvents && len(m.Events) == 0:
		fields["events"] = `required with capability "events"`
	case !hasEvents && len(m.Events) > 0:
		fields["events"] = `only with capability "events"`
	}
	for i, e := range m.Events {
		if !eventTypeRE.MatchString(e) {
			fields[fmt.Sprintf("events[%d]", i)] = `must be an event type such as "session.closed"`
		}
	}
	if len(m.RoutingFiles) > 0 && !slices.Contains(m.Capabilities, CapRouting) {
		fields["routing_files"] = `only with capability "routing"`
	}
	seen := map[string]bool{}
	for i, s := range m.Settings {
		at := fmt.Sprintf("settings[%d]", i)
		switch {
		case !settingKeyRE.MatchString(s.Key):
			fields[at+".key"] = "must be lower-case letters, digits and underscores, starting with a letter"
		case seen[s.Key]:
			fields[at+".key"] = fmt.Sprintf("%q is used twice", s.Key)
		}
		seen[s.Key] = true
		if len(s.Enum) > 0 && s.Type != "string" {
			fields[at+".enum"] = `only with type "string"`
		}
		if len(s.Default) > 0 {
			if msg := checkDefault(s); msg != "" {
				fields[at+".default"] = msg
			}
		}
	}
	if len(fields) > 0 {
		return Manifest{}, &ConfigError{Message: "invalid manifest", Fields: fields}
	}
	return m, nil
}

func checkDefault(s Setting) string {
	newVal, ok := settingGoType[s.Type]
	if !ok {
		return "" // the type's own error says it
	}
	v := newVal()
	if err := json.Unmarshal(s.Default, v); err != nil {
		return fmt.Sprintf("must be of type %s", s.Type)
	}
	if str, ok := v.(*string); ok && len(s.Enum) > 0 && !slices.Contains(s.Enum, *str) {
		return "must be one of enum"
	}
	return ""
}

// Description is what a plugin built from this manifest must answer to
// Describe (capabilities are added by Serve).
func (m Manifest) Description() Description {
	return Description{ID: m.ID, Name: m.Name, Version: m.Version}
}
