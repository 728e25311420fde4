// Package sdk is everything a plugin author needs to write a Tether plugin,
// and nothing of the hub's core: it must never import core/... .
// The protocol, Serve() and the capability interfaces arrive with the plugin
// platform issue; until then this package is intentionally empty.
package sdk
