package pluginsettings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/secrets"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

// SectionPrefix starts the settings section of every plugin: "plugin.<id>".
const SectionPrefix = "plugin."

// SectionName is the settings section holding a plugin's values.
func SectionName(pluginID string) string { return SectionPrefix + pluginID }

// Kinds are the units that hold plugin settings: events are delivered for a
// session's technician group or channel, and both inherit from the
// organisation.
var Kinds = []settings.UnitKind{settings.Org, settings.TechGroup, settings.Channel}

// Manifests gives a plugin's installed manifest; *catalogue.Catalogue is one.
type Manifests interface {
	Manifest(ctx context.Context, pluginID string) (manifest.Manifest, error)
}

// Service reads and saves plugin settings. Values live in the settings
// table through a settings.Service of its own, whose registry holds only
// plugin sections: the generic settings API never lists them, so sealed
// secrets and unvalidated saves cannot go through it.
type Service struct {
	DB        *bun.DB
	Tree      settings.Tree
	Manifests Manifests
	Keyring   *secrets.Keyring
	Now       func() time.Time // nil means time.Now

	once     sync.Once
	registry *settings.Registry
	store    *settings.Service
}

// stored is the section's value in the settings table. Values holds only
// what the unit itself set: a missing key takes the manifest's default at
// read time, so a plugin update's new defaults apply. Secrets hold the
// sealed text.
type stored struct {
	Enabled bool                       `json:"enabled"`
	Values  map[string]json.RawMessage `json:"values"`
}

func newStored() any { return &stored{Values: map[string]json.RawMessage{}} }

func (s *Service) settings() *settings.Service {
	s.once.Do(func() {
		s.registry = &settings.Registry{}
		s.store = &settings.Service{DB: s.DB, Tree: s.Tree, Registry: s.registry, Now: s.Now}
	})
	return s.store
}

// section registers the plugin's section on first use. Its shape never
// changes with the manifest (the schema is applied here, not by
// settings), so a registered section stays valid across plugin versions.
func (s *Service) section(m manifest.Manifest) (string, error) {
	s.settings() // creates the registry
	name := SectionName(m.ID)
	if _, ok := s.registry.Section(name); ok {
		return name, nil
	}
	err := s.registry.Register(settings.Section{Name: name, Title: m.Name, Kinds: Kinds, New: newStored})
	if err != nil {
		if _, ok := s.registry.Section(name); ok { // registered meanwhile
			return name, nil
		}
		return "", err
	}
	return name, nil
}

// SecretState is how a secret appears in a View, and what a save may send
// back for it: {"set": true} keeps the stored secret, {"set": false}
// clears it.
type SecretState struct {
	Set bool `json:"set"`
}

// View is a unit's plugin settings as the admin form shows them.
type View struct {
	PluginID string        `json:"plugin_id"`
	Unit     settings.Unit `json:"unit"`
	Enabled  bool          `json:"enabled"`
	// Values holds every setting of the schema with defaults applied (null
	// when neither set nor defaulted); secrets are SecretState, never
	// their value.
	Values map[string]any `json:"values"`
	// Own is true when the unit holds its own value; InheritedFrom is the
	// unit whose value applies, nil for the defaults.
	Own           bool           `json:"own"`
	InheritedFrom *settings.Unit `json:"inherited_from"`
	// Locked names the settings this unit cannot hold because of their
	// scope, with the unit they are taken from (e.g. an org-scoped API key
	// seen on a technician group).
	Locked map[string]settings.Unit `json:"locked,omitempty"`
}

// resolved is a unit's settings as read: values decoded (secrets still
// sealed) and each setting's origin.
type resolved struct {
	unit    settings.Unit
	eff     settings.Effective
	enabled bool
	values  map[string]any // set values only, no defaults
	locked  map[string]settings.Unit
}

// allowed says whether a unit of kind k may hold a setting of scope sc.
func allowed(sc manifest.Scope, k settings.UnitKind) bool {
	switch sc {
	case manifest.ScopeOrg:
		return k == settings.Org
	case manifest.ScopeGroup:
		return k == settings.Org || k == settings.TechGroup
	case manifest.ScopeChannel:
		return k == settings.Org || k == settings.Channel
	}
	return slices.Contains(Kinds, k)
}

func (s *Service) resolve(ctx context.Context, m manifest.Manifest, unitID int64) (resolved, error) {
	section, err := s.section(m)
	if err != nil {
		return resolved{}, err
	}
	eff, err := s.settings().Effective(ctx, unitID, section)
	if err != nil {
		return resolved{}, err
	}
	r := resolved{unit: eff.Unit, eff: eff, values: map[string]any{}, locked: map[string]settings.Unit{}}
	st := eff.Value.(*stored)
	r.enabled = st.Enabled
	var ancestors []settings.Unit
	holders := map[int64]*stored{}
	for _, set := range m.Settings {
		from := st
		if !allowed(set.Scope, r.unit.Kind) {
			if ancestors == nil {
				if ancestors, err = s.Tree.Ancestors(ctx, r.unit.ID); err != nil {
					return resolved{}, fmt.Errorf("plugin %s settings of unit %d: ancestors: %w", m.ID, unitID, err)
				}
			}
			holder, ok := nearest(ancestors, set.Scope)
			if !ok {
				continue // no unit above may hold it: the default applies
			}
			r.locked[set.Key] = holder
			if from = holders[holder.ID]; from == nil {
				he, err := s.settings().Effective(ctx, holder.ID, section)
				if err != nil {
					return resolved{}, err
				}
				from = he.Value.(*stored)
				holders[holder.ID] = from
			}
		}
		raw, ok := from.Values[set.Key]
		if !ok {
			continue
		}
		v, err := decode(raw)
		if err != nil {
			return resolved{}, fmt.Errorf("plugin %s setting %s of unit %d: stored value: %w", m.ID, set.Key, unitID, err)
		}
		if v != nil {
			r.values[set.Key] = v
		}
	}
	// A value stored under an older schema that the current one refuses
	// (an enum value since removed, a type change) gives way to the
	// default instead of reaching the plugin.
	plain := withoutSecrets(m, r.values)
	for key := range m.ValidateSettings(plain) {
		if _, judged := plain[key]; judged {
			delete(r.values, key)
		}
	}
	return r, nil
}

func nearest(ancestors []settings.Unit, sc manifest.Scope) (settings.Unit, bool) {
	for _, a := range ancestors {
		if allowed(sc, a.Kind) {
			return a, true
		}
	}
	return settings.Unit{}, false
}

func decode(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

// withoutSecrets drops sealed secrets, which the schema would judge by
// their sealed text (too long, not a URL).
func withoutSecrets(m manifest.Manifest, values map[string]any) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		if set, ok := m.Setting(k); ok && set.Secret {
			continue
		}
		out[k] = v
	}
	return out
}

var errNoKeyring = errors.New("plugin settings: no secret keyring configured, cannot seal or open secrets")

// purpose binds a sealed secret to its plugin and setting.
func purpose(pluginID, key string) []byte { return []byte(SectionPrefix + pluginID + "." + key) }

func (s *Service) open(m manifest.Manifest, key string, sealed any) (string, error) {
	text, ok := sealed.(string)
	if !ok {
		return "", fmt.Errorf("plugin %s secret %s: stored value is not sealed text", m.ID, key)
	}
	if s.Keyring == nil {
		return "", errNoKeyring
	}
	plain, err := s.Keyring.OpenFor(text, purpose(m.ID, key))
	if err != nil {
		return "", fmt.Errorf("plugin %s secret %s: %w", m.ID, key, err)
	}
	return string(plain), nil
}

// View returns a unit's settings for the admin form, secrets masked.
func (s *Service) View(ctx context.Context, pluginID string, unitID int64) (View, error) {
	m, err := s.Manifests.Manifest(ctx, pluginID)
	if err != nil {
		return View{}, err
	}
	r, err := s.resolve(ctx, m, unitID)
	if err != nil {
		return View{}, err
	}
	values := m.WithDefaults(withoutSecrets(m, r.values))
	for _, set := range m.Settings {
		_, isSet := values[set.Key]
		switch {
		case set.Secret:
			_, isSet = r.values[set.Key]
			values[set.Key] = SecretState{Set: isSet}
		case !isSet:
			values[set.Key] = nil // the form shows every setting
		}
	}
	v := View{
		PluginID: pluginID, Unit: r.unit, Enabled: r.enabled, Values: values,
		Own: r.eff.Own, InheritedFrom: r.eff.Source,
	}
	if len(r.locked) > 0 {
		v.Locked = r.locked
	}
	return v, nil
}

// Effective returns what the hub hands the plugin for events of a unit:
// every setting with defaults applied and secrets in clear, and whether
// the plugin is enabled there.
func (s *Service) Effective(ctx context.Context, pluginID string, unitID int64) (map[string]any, bool, error) {
	m, err := s.Manifests.Manifest(ctx, pluginID)
	if err != nil {
		return nil, false, err
	}
	r, err := s.resolve(ctx, m, unitID)
	if err != nil {
		return nil, false, err
	}
	values, err := s.opened(m, r.values)
	if err != nil {
		return nil, false, err
	}
	return m.WithDefaults(values), r.enabled, nil
}

// opened returns values with every secret opened.
func (s *Service) opened(m manifest.Manifest, values map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(values))
	for k, v := range values {
		if set, ok := m.Setting(k); ok && set.Secret {
			plain, err := s.open(m, k, v)
			if err != nil {
				return nil, err
			}
			v = plain
		}
		out[k] = v
	}
	return out, nil
}

// Reset removes the unit's own value so that it inherits again.
func (s *Service) Reset(ctx context.Context, pluginID string, unitID int64, inScope func(settings.Unit) bool) error {
	m, err := s.Manifests.Manifest(ctx, pluginID)
	if err != nil {
		return err
	}
	section, err := s.section(m)
	if err != nil {
		return err
	}
	return s.settings().Reset(ctx, unitID, section, inScope)
}

// SaveRequest is one save of a plugin's settings on a unit.
type SaveRequest struct {
	PluginID string
	UnitID   int64
	Mode     settings.Mode
	Enabled  bool
	// Values maps setting keys to values as encoding/json decodes them. A
	// missing or null key takes its default. For a secret, a missing key,
	// null, "" or {"set": true} keeps the secret the unit uses now,
	// {"set": false} clears it, and a non-empty string replaces it.
	Values        map[string]any
	ActorID       int64
	ActorIsMaster bool
	// InScope tells whether the caller manages a unit; nil means every unit.
	InScope func(settings.Unit) bool
	// Configure, if set, lets the running plugin check the values the
	// schema accepted (every setting, defaults applied, secrets in clear).
	// A *sdk.ConfigError (what the plugin's Configure returns through the
	// SDK) or an error with a FieldErrors() map[string]string method comes
	// back as a validation fault with code plugin_refused and the same
	// fields; any other error is returned wrapped.
	Configure func(ctx context.Context, unitID int64, values map[string]any) error
}

// FieldErrorer is an error that names the offending settings, as the SDK's
// configuration errors do.
type FieldErrorer interface {
	FieldErrors() map[string]string
}

// Save validates the values (schema first, then the plugin's Configure)
// and writes them to every unit the mode selects (ORG-8), in one
// transaction. Nothing is written unless every check passes. It returns
// the units written.
func (s *Service) Save(ctx context.Context, req SaveRequest) ([]settings.Unit, error) {
	m, err := s.Manifests.Manifest(ctx, req.PluginID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains([]settings.Mode{settings.ModeUnit, settings.ModeSubtree, settings.ModeAll}, req.Mode) {
		return nil, fault.Field("mode", "must be one of: unit, subtree, all")
	}
	u, err := s.Tree.Unit(ctx, req.UnitID)
	if err != nil {
		return nil, fmt.Errorf("save plugin %s settings of unit %d: %w", m.ID, req.UnitID, err)
	}
	if req.InScope != nil && !req.InScope(u) {
		return nil, fault.OutOfScope("%s is outside the units you manage.", u.Name)
	}
	cur, err := s.resolve(ctx, m, req.UnitID)
	if err != nil {
		return nil, err
	}
	own, all, errs, err := s.merge(m, cur, req.Values)
	if err != nil {
		return nil, err
	}
	for k, why := range m.ValidateSettings(all) {
		if holder, ok := cur.locked[k]; ok {
			if why == "is required" {
				why = "is required: set it on " + holder.Name
			} else {
				why = fmt.Sprintf("%s (set on %s)", why, holder.Name)
			}
		}
		if _, dup := errs[k]; !dup {
			errs[k] = why
		}
	}
	if len(errs) > 0 {
		return nil, fault.Fields(errs)
	}
	full := m.WithDefaults(all)
	if req.Configure != nil {
		if err := req.Configure(ctx, u.ID, full); err != nil {
			return nil, configureError(m, u, err)
		}
	}
	value, err := s.seal(m, own, all, full, req.Enabled)
	if err != nil {
		return nil, err
	}
	section, err := s.section(m)
	if err != nil {
		return nil, err
	}
	return s.settings().Save(ctx, settings.SaveRequest{
		UnitID: req.UnitID, Section: section, Mode: req.Mode, Value: value,
		ActorID: req.ActorID, ActorIsMaster: req.ActorIsMaster, InScope: req.InScope,
	})
}

// merge reads a submission against what the unit uses now. own are the
// keys the unit will hold itself; all adds the values of locked settings
// (held above the unit) so that the whole is validated. Secrets are in
// clear in all.
func (s *Service) merge(m manifest.Manifest, cur resolved, submitted map[string]any) (own []string, all map[string]any, errs map[string]string, err error) {
	all = map[string]any{}
	errs = map[string]string{}
	for k, v := range submitted {
		if _, ok := m.Setting(k); !ok {
			all[k] = v // refused by ValidateSettings with the other problems
		}
	}
	for _, set := range m.Settings {
		v, sent := submitted[set.Key]
		current, has := cur.values[set.Key]
		keep := false
		if set.Secret {
			switch secret := secretIntent(v); {
			case !sent, secret == keepSecret:
				keep = true
			case secret == clearSecret:
				v = nil
			}
		}
		if holder, locked := cur.locked[set.Key]; locked {
			if sent && !keep && !same(m, set, v, current, has) {
				errs[set.Key] = fmt.Sprintf("cannot be changed here: it is set on %s (scope %s)", holder.Name, set.Scope)
			}
			keep = true
		} else {
			own = append(own, set.Key)
		}
		if keep {
			if !has {
				continue
			}
			if set.Secret {
				plain, err := s.open(m, set.Key, current)
				if err != nil {
					return nil, nil, nil, err
				}
				current = plain
			}
			all[set.Key] = current
			continue
		}
		if v != nil {
			all[set.Key] = v
		}
	}
	return own, all, errs, nil
}

type intent int

const (
	newSecret intent = iota
	keepSecret
	clearSecret
)

// secretIntent reads what a submission means for a secret.
func secretIntent(v any) intent {
	switch x := v.(type) {
	case nil:
		return keepSecret
	case string:
		if x == "" {
			return keepSecret
		}
	case SecretState:
		return map[bool]intent{true: keepSecret, false: clearSecret}[x.Set]
	case *SecretState:
		if x != nil {
			return secretIntent(*x)
		}
		return keepSecret
	case map[string]any:
		if set, ok := x["set"].(bool); ok && len(x) == 1 {
			return secretIntent(SecretState{Set: set})
		}
	}
	return newSecret
}

// same reports whether a submitted value of a locked setting is the one
// in force (the admin form sends locked settings back unchanged).
func same(m manifest.Manifest, set manifest.Setting, submitted, current any, has bool) bool {
	if submitted == nil {
		return true
	}
	if !has {
		current = set.Default
	}
	a := m.WithDefaults(map[string]any{set.Key: submitted})[set.Key]
	b := m.WithDefaults(map[string]any{set.Key: current})[set.Key]
	return reflect.DeepEqual(a, b)
}

func configureError(m manifest.Manifest, u settings.Unit, err error) error {
	var ce *sdk.ConfigError
	if errors.As(err, &ce) {
		return refused(m, ce.Fields, ce.Message)
	}
	var fe FieldErrorer
	if errors.As(err, &fe) {
		if fields := fe.FieldErrors(); len(fields) > 0 {
			return refused(m, fields, "")
		}
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	return fmt.Errorf("plugin %s refused the settings of %s: %w", m.ID, u.Name, err)
}

// refused is the plugin's refusal as a validation fault, its field errors
// intact so the form shows them beside the inputs.
func refused(m manifest.Manifest, fields map[string]string, why string) *fault.Error {
	out := fault.Fields(fields)
	out.Code = "plugin_refused"
	out.Message = fmt.Sprintf("%s refused these settings.", m.Name)
	if why != "" && len(fields) == 0 {
		out.Message = fmt.Sprintf("%s refused these settings: %s", m.Name, why)
	}
	return out
}

// seal builds the stored JSON: the unit's own keys that were sent (or
// kept), canonical values, secrets sealed. Keys left out take their
// default when read.
func (s *Service) seal(m manifest.Manifest, own []string, all, full map[string]any, enabled bool) (json.RawMessage, error) {
	st := stored{Enabled: enabled, Values: map[string]json.RawMessage{}}
	for _, k := range own {
		if _, sent := all[k]; !sent {
			continue
		}
		v := full[k]
		if set, _ := m.Setting(k); set.Secret {
			if s.Keyring == nil {
				return nil, errNoKeyring
			}
			sealed, err := s.Keyring.SealFor([]byte(v.(string)), purpose(m.ID, k))
			if err != nil {
				return nil, fmt.Errorf("plugin %s secret %s: %w", m.ID, k, err)
			}
			v = sealed
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("plugin %s setting %s: %w", m.ID, k, err)
		}
		st.Values[k] = raw
	}
	return json.Marshal(st)
}
