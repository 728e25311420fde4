// Package pluginhost runs plugins: it supervises their processes, hands
// them session events from the durable delivery queue and serves their
// HTTP pages. Its subpackages own the catalogue, settings, deliveries and
// key-value store; it must not know any plugin by name.
package pluginhost
