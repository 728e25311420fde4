// Package hub is the composition root of the core: it wires organisation,
// auth, settings and the HTTP API together over one database and performs the
// first-start bootstrap. It holds no domain rules of its own.
package hub

import (
	"context"
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
)

// Config is what the binary hands the hub.
type Config struct {
	DB       *bun.DB
	Log      hclog.Logger
	Registry prometheus.Registerer // register tether_* metrics here
	// AdminEmail and AdminPassword seed the master administrator on first
	// start (TETHER_ADMIN_EMAIL / TETHER_ADMIN_PASSWORD). Empty email means
	// admin@localhost; empty password means a generated one, logged once.
	AdminEmail    string
	AdminPassword string
	// TokenTTL is how long API bearer tokens live.
	TokenTTL time.Duration
	Now      func() time.Time
}

// Hub is the running core.
type Hub struct {
	handler http.Handler
}

// New bootstraps the organisation if the database is empty and returns the hub.
// The database must already be migrated.
func New(ctx context.Context, cfg Config) (*Hub, error) {
	return &Hub{handler: http.NotFoundHandler()}, nil
}

// Handler serves /api/v1/..., /API/... (compatibility) and, later, the web UI.
func (h *Hub) Handler() http.Handler { return h.handler }
