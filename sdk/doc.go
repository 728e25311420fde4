// Package sdk is everything a plugin author needs to write a Tether plugin,
// and both ends of its transport: Serve (plugin side), Launch and Conn (hub
// side), the host API over go-plugin's broker, and DecodeConfig. It must
// never import core/...; the gRPC protocol (sdk/proto, v1) stays out of a
// plugin author's sight.
package sdk
