package manifest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tetherhq/tether/sdk"
)

// FileName is the manifest's name at the root of a plugin directory.
const FileName = "plugin.json"

// Manifest is a parsed, valid plugin.json. Marshalled back to JSON it parses
// to the same value, so the catalogue stores it as JSON text.
type Manifest struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	MinHubVersion string `json:"min_hub_version,omitempty"`
	// Executable is a path relative to the plugin directory; empty when
	// Bundled, i.e. when the hub's own binary runs it as
	// "tether plugin run <id>".
	Executable string `json:"executable,omitempty"`
	Bundled    bool   `json:"bundled,omitempty"`
	// Summary is the manifest's "description": a few sentences for the
	// admin centre. (Description is the method a plugin's Describe answers
	// with.)
	Summary      string    `json:"description,omitempty"`
	Capabilities []string  `json:"capabilities"`
	Events       []string  `json:"events,omitempty"`
	Settings     []Setting `json:"settings,omitempty"`
	// Routing lists rule files, relative to the plugin directory.
	Routing []string `json:"routing,omitempty"`
}

// Type is the type of a setting; it decides the admin form's input and the
// Go type of the value (see Setting.Default).
type Type string

const (
	String Type = "string" // one line of text
	Text   Type = "text"   // several lines
	URL    Type = "url"    // an http or https URL
	Bool   Type = "bool"
	Int    Type = "int"
	Enum   Type = "enum"   // one of Setting.Enum
	Secret Type = "secret" // a string stored sealed and never shown back
)

var types = []Type{String, Text, URL, Bool, Int, Enum, Secret}

// Scope is the narrowest kind of unit on which a setting may differ from the
// organisation's value. Empty means any unit that holds plugin settings.
type Scope string

const (
	ScopeAny     Scope = ""
	ScopeOrg     Scope = "org"     // one value for the whole organisation
	ScopeGroup   Scope = "group"   // the organisation and technician groups
	ScopeChannel Scope = "channel" // the organisation and channels
)

// Setting is one entry of the settings schema.
type Setting struct {
	Key      string `json:"key"`
	Type     Type   `json:"type"`
	Label    string `json:"label"`
	Help     string `json:"help,omitempty"`
	Required bool   `json:"required,omitempty"`
	// Secret is true for every setting of type secret, and may be set on
	// string, text and url settings that hold credentials (a webhook URL
	// with a token in it).
	Secret bool `json:"secret,omitempty"`
	// Default is a string, a bool or an int64 according to Type; nil when
	// the setting has none.
	Default any      `json:"default,omitempty"`
	Enum    []string `json:"enum,omitempty"`
	Min     *int64   `json:"min,omitempty"`
	Max     *int64   `json:"max,omitempty"`
	Scope   Scope    `json:"scope,omitempty"`
}

// EnabledKey is reserved: every unit's plugin settings carry an "enabled"
// switch beside the manifest's settings.
const EnabledKey = "enabled"

// Capabilities a manifest may declare.
var capabilities = []string{sdk.CapEvents, sdk.CapHTTP, sdk.CapCodec, sdk.CapRouting}

// Limits on a manifest's size, so that a hostile one cannot bloat the
// catalogue or the admin form.
const (
	maxSettings    = 100
	maxEvents      = 100
	maxRoutingFile = 50
	maxName        = 100
	maxDescription = 2000
	maxLabel       = 100
	maxHelp        = 1000
	maxEnum        = 100
	maxPath        = 255
)

// HasCapability reports whether the manifest declares c.
func (m *Manifest) HasCapability(c string) bool { return slices.Contains(m.Capabilities, c) }

// Setting returns the schema entry for key.
func (m *Manifest) Setting(key string) (Setting, bool) {
	for _, s := range m.Settings {
		if s.Key == key {
			return s, true
		}
	}
	return Setting{}, false
}

// Subscribes reports whether the plugin receives events of eventType: it
// declares the events capability and lists the type exactly or under a
// prefix wildcard ("session.*" covers "session.closed").
func (m *Manifest) Subscribes(eventType string) bool {
	if !m.HasCapability(sdk.CapEvents) || eventType == "" {
		return false
	}
	for _, p := range m.Events {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if len(eventType) > len(prefix) && strings.HasPrefix(eventType, prefix) {
				return true
			}
			continue
		}
		if p == eventType {
			return true
		}
	}
	return false
}

// Description is what a plugin built from this manifest answers to
// Describe: its ID, name and version (Serve adds the capabilities).
func (m *Manifest) Description() sdk.Description {
	return sdk.Description{ID: m.ID, Name: m.Name, Version: m.Version}
}

// CompatibleWith refuses a hub older than the manifest's min_hub_version
// with an *Error of code CodeHubTooOld.
// hubVersion may carry a leading "v" (Go module versions); "" and "dev"
// stand for a development build, which runs everything.
func (m *Manifest) CompatibleWith(hubVersion string) error {
	if m.MinHubVersion == "" || hubVersion == "" || hubVersion == "dev" {
		return nil
	}
	min, err := parseSemver(m.MinHubVersion)
	if err != nil {
		return fmt.Errorf("plugin %s: min_hub_version %q: %w", m.ID, m.MinHubVersion, err)
	}
	hub, err := parseSemver(strings.TrimPrefix(hubVersion, "v"))
	if err != nil {
		return fmt.Errorf("plugin %s: hub version %q: %w", m.ID, hubVersion, err)
	}
	if hub.compare(min) < 0 {
		return &Error{
			Code:    CodeHubTooOld,
			Message: fmt.Sprintf("Plugin %s %s needs Tether %s or newer; this hub is %s.", m.ID, m.Version, m.MinHubVersion, hubVersion),
			Fields:  map[string]string{"min_hub_version": "needs Tether " + m.MinHubVersion + " or newer; this hub is " + hubVersion},
		}
	}
	return nil
}

// IsVersion reports whether v is a semantic version (an optional "v", then
// MAJOR.MINOR.PATCH with an optional pre-release), the form CompatibleWith
// compares.
func IsVersion(v string) bool {
	_, err := parseSemver(strings.TrimPrefix(v, "v"))
	return err == nil
}
