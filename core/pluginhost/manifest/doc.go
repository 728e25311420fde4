// Package manifest owns plugin.json: its model, the rules it must follow, version compatibility,
// event subscriptions and the settings schema that validates a unit's plugin settings.
// It is pure: it must not read files, touch the database or know how settings are stored.
package manifest
