package ops

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// ReadyTimeout bounds the database checks behind /readyz, so that a probe
// never hangs on a stuck pool.
const ReadyTimeout = 2 * time.Second

// Mount registers GET /healthz, GET /readyz and GET /metrics on mux.
func Mount(mux *http.ServeMux, db *bun.DB, m *Metrics) {
	mux.Handle("GET /healthz", Healthz())
	mux.Handle("GET /readyz", Readyz(db))
	mux.Handle("GET /metrics", m.Handler())
}

// Healthz answers 200 "ok" whenever the process can serve HTTP at all; it
// checks nothing else, so that an orchestrator restarts only a hung process.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, "ok")
	})
}

// Readiness is the JSON body of /readyz.
type Readiness struct {
	Status string `json:"status"`           // "ready" or "unavailable"
	Reason string `json:"reason,omitempty"` // why not ready
}

// Readyz answers 200 when the database answers a ping and every migration is
// applied, both within ReadyTimeout; otherwise 503 with the reason in JSON.
func Readyz(db *bun.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		body, code := Readiness{Status: "ready"}, http.StatusOK
		if reason := notReady(ctx, db); reason != "" {
			body, code = Readiness{Status: "unavailable", Reason: reason}, http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(body) //nolint:errchkjson // a failed write means the prober left
	})
}

func notReady(ctx context.Context, db *bun.DB) string {
	if err := db.PingContext(ctx); err != nil {
		return "database unreachable: " + err.Error()
	}
	st, err := store.SchemaOf(ctx, db)
	if err != nil {
		return "cannot read migration state: " + err.Error()
	}
	if len(st.Newer) > 0 {
		return store.NewerError(st.Newer).Error()
	}
	if len(st.Pending) > 0 {
		return "database migrations pending: run tether migrate up"
	}
	return ""
}
