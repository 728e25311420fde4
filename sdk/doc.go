// Package sdk is everything a plugin author needs to write a Tether plugin,
// and nothing of the hub's core: it must never import core/... .
// A plugin implements the small capability interfaces of this package and
// calls Serve; the gRPC protocol (sdk/proto, v1) stays out of its sight.
package sdk
