package settings

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
)

// UnitKind is the kind of a node in the organisation tree.
type UnitKind string

// The kinds that can hold settings. The tree holds other kinds too
// ("admin_group", "master", "admin"); no section applies to them.
const (
	Org        UnitKind = "org"
	TechGroup  UnitKind = "tech_group"
	Technician UnitKind = "technician"
	Channel    UnitKind = "channel"
)

var settingKinds = []UnitKind{Org, TechGroup, Technician, Channel}

// Unit is a node of the organisation tree as settings sees it.
type Unit struct {
	ID   int64    `json:"id"`
	Kind UnitKind `json:"kind"`
	Name string   `json:"name"`
}

// Tree is the organisation tree, provided by core/org; settings never reads
// the nodes table itself.
type Tree interface {
	// Unit returns a fault of kind NotFound when id does not exist.
	Unit(ctx context.Context, id int64) (Unit, error)
	// Ancestors lists the units above id, nearest first, ending at the
	// organisation root: technician -> its group -> parent groups -> org;
	// channel -> org.
	Ancestors(ctx context.Context, id int64) ([]Unit, error)
	// Descendants lists every unit below id, at any depth.
	Descendants(ctx context.Context, id int64) ([]Unit, error)
	// All lists every unit of the kind in the organisation.
	All(ctx context.Context, kind UnitKind) ([]Unit, error)
}

// Section is one group of settings, stored as one JSON value per unit.
type Section struct {
	Name  string // stable identifier, used in the API and the settings table
	Title string // shown in the admin centre
	// Kinds are the units that may hold their own value; the section is read
	// and saved only on units of these kinds.
	Kinds []UnitKind
	// New returns a pointer to a struct filled with the defaults. Stored and
	// submitted values are decoded onto it, so fields missing from them keep
	// their defaults.
	New func() any
	// NoAllChannels refuses saving for all channels at once (ORG-8:
	// auto-transfer and auto-start).
	NoAllChannels bool
	// MasterOnly lets only master admins change the section, e.g. the
	// organisation's password policy.
	MasterOnly bool
	// Validate, if set, checks a decoded value after its validate tags
	// passed. A *fault.Error is returned as is; any other error is reported
	// against the field "value".
	Validate func(v any) error
}

// Applies reports whether units of kind k may hold a value of the section.
func (s Section) Applies(k UnitKind) bool { return slices.Contains(s.Kinds, k) }

// Registry holds the known sections. The zero value is ready to use.
type Registry struct {
	mu       sync.RWMutex
	sections map[string]Section
}

// Register adds a section. A duplicate name or an incomplete section is a
// programming error and is returned as one.
func (r *Registry) Register(s Section) error {
	if err := checkSection(s); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.sections[s.Name]; dup {
		return fmt.Errorf("register settings section %q: already registered", s.Name)
	}
	if r.sections == nil {
		r.sections = make(map[string]Section)
	}
	s.Kinds = slices.Clone(s.Kinds)
	r.sections[s.Name] = s
	return nil
}

func checkSection(s Section) error {
	if s.Name == "" {
		return fmt.Errorf("register settings section: empty name")
	}
	if len(s.Kinds) == 0 {
		return fmt.Errorf("register settings section %q: no unit kinds", s.Name)
	}
	for _, k := range s.Kinds {
		if !slices.Contains(settingKinds, k) {
			return fmt.Errorf("register settings section %q: kind %q cannot hold settings", s.Name, k)
		}
	}
	if s.New == nil {
		return fmt.Errorf("register settings section %q: no New function", s.Name)
	}
	v := reflect.ValueOf(s.New())
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("register settings section %q: New returns %T, want a pointer to a struct", s.Name, s.New())
	}
	return nil
}

// Section returns the section registered under name.
func (r *Registry) Section(name string) (Section, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.sections[name]
	return s, ok
}

// Sections returns every registered section, sorted by name.
func (r *Registry) Sections() []Section {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Section, 0, len(r.sections))
	for _, s := range r.sections {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
