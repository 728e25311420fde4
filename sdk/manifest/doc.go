// Package manifest owns plugin.json: its model, the rules it must follow,
// version compatibility, event subscriptions and the settings schema that
// validates a unit's plugin settings.
//
// It is the one parser of plugin.json: the hub installs, registers and
// runs plugins with it, and a plugin author checks a manifest with the same
// rules (a plugin may embed its plugin.json and Parse it at start). So it
// lives under sdk and, like sdk, must never import core/...; refusals come
// back as *Error, which the hub turns into its own user-facing errors.
//
// It is pure: it must not read files, touch a database or know how settings
// are stored.
package manifest
