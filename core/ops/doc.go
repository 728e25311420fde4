// Package ops owns what operators and orchestrators see of a running hub: the tether_* Prometheus
// registry, the HTTP metrics middleware, and the /healthz, /readyz and /metrics endpoints.
// It holds no domain logic and reads no table of its own; readiness asks core/store.
package ops
