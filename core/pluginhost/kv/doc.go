// Package kv owns plugin_kv, each plugin's own key-value store behind the host API's KVGet/KVSet/KVDelete.
// It enforces the limits (key 1..256 bytes, value up to 64 KiB, a cap on keys per plugin) with clear errors.
// It must not let one plugin name another's keys: callers hold a Space bound to one plugin id.
package kv
