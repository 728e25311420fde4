// Package settings owns the settings table: every per-unit setting is a registered Section whose
// value a unit holds itself, inherits from its nearest ancestor, or takes from the default (ORG-8).
// It resolves, validates and saves values; it must not know the organisation's storage (see Tree).
package settings
