package settings_test

import (
	"testing"

	"github.com/tetherhq/tether/core/settings"
)

func TestRegistry(t *testing.T) {
	newS := func() any { return &welcomeSettings{} }
	ok := func(name string) settings.Section {
		return settings.Section{Name: name, Kinds: []settings.UnitKind{settings.Org}, New: newS}
	}
	tests := []struct {
		name    string
		section settings.Section
		wantErr bool
	}{
		{"complete", ok("b"), false},
		{"another", ok("a"), false},
		{"duplicate name", ok("b"), true},
		{"no name", ok(""), true},
		{"no kinds", settings.Section{Name: "c", New: newS}, true},
		{"kind that cannot hold settings", settings.Section{Name: "c", Kinds: []settings.UnitKind{"admin"}, New: newS}, true},
		{"no New", settings.Section{Name: "c", Kinds: []settings.UnitKind{settings.Org}}, true},
		{"New without a pointer", settings.Section{Name: "c", Kinds: []settings.UnitKind{settings.Org}, New: func() any { return welcomeSettings{} }}, true},
		{"New with a nil pointer", settings.Section{Name: "c", Kinds: []settings.UnitKind{settings.Org}, New: func() any { return (*welcomeSettings)(nil) }}, true},
	}
	var r settings.Registry
	for _, tt := range tests {
		if err := r.Register(tt.section); (err != nil) != tt.wantErr {
			t.Errorf("%s: Register error = %v, want error %v", tt.name, err, tt.wantErr)
		}
	}
	var names []string
	for _, s := range r.Sections() {
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Errorf("Sections = %v, want [a b]", names)
	}
	if _, found := r.Section("a"); !found {
		t.Error("Section(a) not found")
	}
	if _, found := r.Section("c"); found {
		t.Error("Section(c) found after refused registrations")
	}
}
