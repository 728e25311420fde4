// Package rules stores routing rules: each channel's and technician group's
// ordered list, the rule packs plugins ship and their per-channel enablement,
// and the audit log. It checks and compiles every rule when it is saved and
// keeps the compiled lists in memory; it never evaluates a rule (core/routing
// does) and never decides where a session goes (core/sessions does).
package rules
