package ops_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/ops"
	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	ops.Healthz().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Fatalf("healthz = %d %q, want 200 \"ok\"", rec.Code, rec.Body.String())
	}
}

func TestReadyz(t *testing.T) {
	unmigrated := func(t *testing.T) *bun.DB {
		db, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "tether.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	closed := func(t *testing.T) *bun.DB {
		db := storetest.SQLite(t)
		db.Close()
		return db
	}
	partlyRolledBack := func(t *testing.T) *bun.DB {
		db := storetest.SQLite(t)
		if _, err := store.MigrateDown(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		return db
	}
	newer := func(t *testing.T) *bun.DB {
		db := storetest.SQLite(t)
		if _, err := db.NewRaw(`INSERT INTO tether_migrations (name, group_id, migrated_at) VALUES ('20991231000000', 99, ?)`,
			time.Now()).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	}
	for _, tc := range []struct {
		name       string
		db         func(*testing.T) *bun.DB
		wantCode   int
		wantStatus string
	}{
		{"migrated", func(t *testing.T) *bun.DB { return storetest.SQLite(t) }, http.StatusOK, "ready"},
		{"unmigrated", unmigrated, http.StatusServiceUnavailable, "unavailable"},
		{"rolled back", partlyRolledBack, http.StatusServiceUnavailable, "unavailable"},
		{"closed", closed, http.StatusServiceUnavailable, "unavailable"},
		{"migrated by a newer version", newer, http.StatusServiceUnavailable, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			ops.Readyz(tc.db(t)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			var body ops.Readiness
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("readyz body %q is not JSON: %v", rec.Body.String(), err)
			}
			if rec.Code != tc.wantCode || body.Status != tc.wantStatus {
				t.Fatalf("readyz = %d %+v, want %d status %q", rec.Code, body, tc.wantCode, tc.wantStatus)
			}
			if (tc.wantCode == http.StatusOK) != (body.Reason == "") {
				t.Fatalf("readyz reason %q: want a reason exactly when not ready", body.Reason)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type = %q", ct)
			}
		})
	}
}

func TestReadyzPostgres(t *testing.T) {
	rec := httptest.NewRecorder()
	ops.Readyz(storetest.Postgres(t)).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("readyz on migrated PostgreSQL = %d %s", rec.Code, rec.Body.String())
	}
}
