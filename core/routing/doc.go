// Package routing owns routing rules as expr expressions: their model, the validator that keeps them cheap, compilation,
// evaluation against a session and its candidate technicians, escalation steps, and run-time failure accounting.
// It is pure: no database, no HTTP, no clock, no goroutines; callers store rules, build the environment and act on the Decision.
package routing
