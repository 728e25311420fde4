package hub

import (
	"github.com/tetherhq/tether/core/auth"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/relay"
	"github.com/tetherhq/tether/core/settings"
)

// Section names owned by the foundation; later features add theirs here.
const (
	PasswordPolicySection = "password_policy"
	ConsoleAccessSection  = "console_access"
)

// Sections builds the registry of every settings section the hub knows.
func Sections() (*settings.Registry, error) {
	reg := &settings.Registry{}
	for _, s := range []settings.Section{
		{
			Name: org.PermissionsSection, Title: "Technician permissions (ORG-7)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup},
			New:   func() any { return org.DefaultPermissions() },
		},
		{
			Name: PasswordPolicySection, Title: "Password policy (AUTH-1)",
			Kinds: []settings.UnitKind{settings.Org}, MasterOnly: true,
			New: func() any { p := auth.DefaultPolicy(); return &p },
		},
		{
			Name: relay.ChatStorageSection, Title: "Keep chat text in the hub's storage (P2U-3)",
			Kinds: []settings.UnitKind{settings.Org, settings.TechGroup},
			New:   func() any { return relay.DefaultChatStorage() },
		},
		{
			Name: ConsoleAccessSection, Title: "Console sign-in IP restrictions (AUTH-2)",
			Kinds:    []settings.UnitKind{settings.Org, settings.TechGroup},
			New:      func() any { return &auth.IPRules{Default: "allow", Exceptions: []auth.IPException{}} },
			Validate: func(v any) error { return v.(*auth.IPRules).Validate() },
		},
	} {
		if err := reg.Register(s); err != nil {
			return nil, err
		}
	}
	for _, s := range sessionSections() {
		if err := reg.Register(s); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
