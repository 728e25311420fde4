package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tetherhq/tether/sdk"
)

var (
	idPattern         = regexp.MustCompile(`^[a-z][a-z0-9-]{1,39}$`)
	settingKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	eventPattern      = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$`)
)

var (
	topKeys     = []string{"id", "name", "version", "min_hub_version", "executable", "bundled", "description", "capabilities", "events", "settings", "routing"}
	settingKeys = []string{"key", "type", "label", "help", "required", "secret", "default", "enum", "min", "max", "scope"}
)

// Parse reads and validates plugin.json. A refused manifest comes back as a
// *Error (code CodeInvalid) naming every problem at once, keyed by its JSON path
// ("settings[2].type"), so an author fixes them in one pass.
func Parse(data []byte) (Manifest, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return Manifest{}, invalid(map[string]string{"plugin.json": "is not valid JSON: " + err.Error()})
	}
	if dec.More() {
		return Manifest{}, invalid(map[string]string{"plugin.json": "holds more than one JSON value"})
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return Manifest{}, invalid(map[string]string{"plugin.json": "must be a JSON object"})
	}
	p := &parser{errs: map[string]string{}}
	m := p.manifest(obj)
	if len(p.errs) > 0 {
		return Manifest{}, invalid(p.errs)
	}
	return m, nil
}

func invalid(fields map[string]string) *Error {
	return &Error{Code: CodeInvalid, Message: "plugin.json is not valid.", Fields: fields}
}

// parser collects problems instead of stopping at the first.
type parser struct{ errs map[string]string }

func (p *parser) add(path, why string) {
	if _, dup := p.errs[path]; !dup {
		p.errs[path] = why
	}
}

func (p *parser) unknown(obj map[string]any, known []string, prefix string) {
	for k := range obj {
		if !slices.Contains(known, k) {
			p.add(join(prefix, k), "is not a known field")
		}
	}
}

// str reads an optional string; a missing key or null is "".
func (p *parser) str(obj map[string]any, key, at string, max int) string {
	v, ok := obj[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.add(at, "must be a string")
		return ""
	}
	if !utf8.ValidString(s) {
		p.add(at, "must be valid UTF-8")
		return ""
	}
	if max > 0 && utf8.RuneCountInString(s) > max {
		p.add(at, fmt.Sprintf("must be at most %d characters", max))
	}
	return s
}

func (p *parser) required(obj map[string]any, key, at string, max int) string {
	s := p.str(obj, key, at, max)
	if _, ok := p.errs[at]; !ok && strings.TrimSpace(s) == "" {
		p.add(at, "is required")
	}
	return s
}

func (p *parser) boolean(obj map[string]any, key, at string) bool {
	v, ok := obj[key]
	if !ok || v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		p.add(at, "must be true or false")
	}
	return b
}

func (p *parser) list(obj map[string]any, key, at string, max int) []any {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		p.add(at, "must be a list")
		return nil
	}
	if len(l) > max {
		p.add(at, fmt.Sprintf("must have at most %d items", max))
		return nil
	}
	return l
}

// strings reads a list of unique non-empty strings, checking each with ok.
func (p *parser) strings(obj map[string]any, key, at string, max int, check func(string) string) []string {
	var out []string
	for i, v := range p.list(obj, key, at, max) {
		el := fmt.Sprintf("%s[%d]", at, i)
		s, isStr := v.(string)
		switch {
		case !isStr:
			p.add(el, "must be a string")
		case slices.Contains(out, s):
			p.add(el, fmt.Sprintf("repeats %q", s))
		default:
			if why := check(s); why != "" {
				p.add(el, why)
				continue
			}
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) manifest(obj map[string]any) Manifest {
	p.unknown(obj, topKeys, "")
	var m Manifest
	m.ID = p.required(obj, "id", "id", 0)
	if m.ID != "" && !idPattern.MatchString(m.ID) {
		p.add("id", "must be 2 to 40 characters: lowercase letters, digits and hyphens, starting with a letter")
	}
	m.Name = p.required(obj, "name", "name", maxName)
	m.Version = p.required(obj, "version", "version", 0)
	if m.Version != "" {
		if _, err := parseSemver(m.Version); err != nil {
			p.add("version", "must be a semantic version such as 1.4.0: "+err.Error())
		}
	}
	m.MinHubVersion = p.str(obj, "min_hub_version", "min_hub_version", 0)
	if m.MinHubVersion != "" {
		if _, err := parseSemver(m.MinHubVersion); err != nil {
			p.add("min_hub_version", "must be a semantic version such as 1.0.0: "+err.Error())
		}
	}
	m.Summary = p.str(obj, "description", "description", maxDescription)
	m.Bundled = p.boolean(obj, "bundled", "bundled")
	m.Executable = p.str(obj, "executable", "executable", maxPath)
	switch {
	case m.Bundled && m.Executable != "":
		p.add("executable", "must be left out when bundled is true (the hub runs bundled plugins from its own binary)")
	case !m.Bundled && m.Executable == "":
		_, badExec := p.errs["executable"]
		_, badBundled := p.errs["bundled"]
		if !badExec && !badBundled {
			p.add("executable", "is required unless bundled is true")
		}
	case m.Executable != "":
		if why := relativePath(m.Executable); why != "" {
			p.add("executable", why)
		} else if m.Executable == FileName {
			p.add("executable", "must not be plugin.json")
		}
	}
	m.Capabilities = p.strings(obj, "capabilities", "capabilities", len(capabilities), func(s string) string {
		if !slices.Contains(capabilities, s) {
			return "must be one of: " + strings.Join(capabilities, ", ")
		}
		return ""
	})
	if len(m.Capabilities) == 0 {
		p.add("capabilities", "must list at least one of: "+strings.Join(capabilities, ", "))
	}
	m.Events = p.strings(obj, "events", "events", maxEvents, func(s string) string {
		if !eventPattern.MatchString(s) {
			return `must be an event type such as "session.closed" or a prefix wildcard such as "session.*"`
		}
		return ""
	})
	switch {
	case m.HasCapability(sdk.CapEvents) && len(m.Events) == 0:
		p.add("events", "must list at least one event type when capabilities has events")
	case !m.HasCapability(sdk.CapEvents) && len(m.Events) > 0:
		p.add("events", "needs the events capability")
	}
	m.Routing = p.strings(obj, "routing", "routing", maxRoutingFile, relativePath)
	if len(m.Routing) > 0 && !m.HasCapability(sdk.CapRouting) {
		p.add("routing", "needs the routing capability")
	}
	for i, v := range p.list(obj, "settings", "settings", maxSettings) {
		at := fmt.Sprintf("settings[%d]", i)
		so, ok := v.(map[string]any)
		if !ok {
			p.add(at, "must be an object")
			continue
		}
		s := p.setting(so, at)
		if s.Key != "" {
			if _, dup := m.Setting(s.Key); dup {
				p.add(at+".key", fmt.Sprintf("repeats %q", s.Key))
			}
		}
		m.Settings = append(m.Settings, s)
	}
	return m
}

func (p *parser) setting(obj map[string]any, at string) Setting {
	p.unknown(obj, settingKeys, at)
	var s Setting
	s.Key = p.required(obj, "key", at+".key", 0)
	switch {
	case s.Key == EnabledKey:
		p.add(at+".key", `"enabled" is reserved: every plugin has an enabled switch per unit`)
	case s.Key != "" && !settingKeyPattern.MatchString(s.Key):
		p.add(at+".key", "must be 1 to 64 characters: lowercase letters, digits and underscores, starting with a letter")
	}
	s.Type = Type(p.required(obj, "type", at+".type", 0))
	if s.Type != "" && !slices.Contains(types, s.Type) {
		p.add(at+".type", "must be one of: string, text, url, bool, int, enum, secret")
		s.Type = ""
	}
	s.Label = p.required(obj, "label", at+".label", maxLabel)
	s.Help = p.str(obj, "help", at+".help", maxHelp)
	s.Required = p.boolean(obj, "required", at+".required")
	s.Secret = p.boolean(obj, "secret", at+".secret")
	if s.Type == Secret {
		s.Secret = true
	}
	if s.Secret && (s.Type == Bool || s.Type == Int || s.Type == Enum) {
		p.add(at+".secret", "only string, text, url and secret settings can be secret")
	}
	s.Scope = Scope(p.str(obj, "scope", at+".scope", 0))
	if !slices.Contains([]Scope{ScopeAny, ScopeOrg, ScopeGroup, ScopeChannel}, s.Scope) {
		p.add(at+".scope", "must be one of: org, group, channel")
	}
	s.Enum = p.strings(obj, "enum", at+".enum", maxEnum, func(v string) string {
		if v == "" {
			return "must not be empty"
		}
		return ""
	})
	switch {
	case s.Type == Enum && len(s.Enum) == 0:
		if _, bad := p.errs[at+".enum"]; !bad {
			p.add(at+".enum", "must list the allowed values of an enum setting")
		}
	case s.Type != Enum && s.Type != "" && obj["enum"] != nil:
		p.add(at+".enum", "is only for enum settings")
	}
	s.Min = p.bound(obj, "min", at, s.Type)
	s.Max = p.bound(obj, "max", at, s.Type)
	if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		p.add(at+".max", fmt.Sprintf("must not be less than min (%d)", *s.Min))
	}
	if d, ok := obj["default"]; ok && d != nil && s.Type != "" {
		switch {
		case s.Secret:
			p.add(at+".default", "a secret cannot have a default")
		default:
			if v, why := s.check(d); why != "" {
				p.add(at+".default", why)
			} else {
				s.Default = v
			}
		}
	}
	return s
}

func (p *parser) bound(obj map[string]any, key, at string, t Type) *int64 {
	v, ok := obj[key]
	if !ok || v == nil {
		return nil
	}
	if t != Int {
		if t != "" {
			p.add(at+"."+key, "is only for int settings")
		}
		return nil
	}
	n, why := integer(v)
	if why != "" {
		p.add(at+"."+key, why)
		return nil
	}
	return &n
}

// relativePath refuses anything that could reach outside the plugin
// directory or that differs between systems.
func relativePath(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case strings.Contains(p, `\`):
		return `must use "/" as the separator`
	case strings.HasPrefix(p, "/"):
		return "must be relative to the plugin directory"
	case strings.ContainsRune(p, 0):
		return "must not contain NUL"
	case len(p) > maxPath:
		return fmt.Sprintf("must be at most %d bytes", maxPath)
	}
	for el := range strings.SplitSeq(p, "/") {
		if el == ".." {
			return `must not contain ".."`
		}
	}
	if path.Clean(p) != p || p == "." {
		return "must be a clean path such as bin/plugin (no ./, // or trailing /)"
	}
	return ""
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
