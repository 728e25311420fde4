// Package storetest gives storage tests a fresh, migrated database on each
// engine: an SQLite file in a temporary directory and a PostgreSQL schema of
// its own, so tests never see each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// DefaultPostgresURL is used when TETHER_TEST_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the server the PostgreSQL suites use.
func PostgresURL() string {
	if u := os.Getenv("TETHER_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// RequirePostgres reports whether a missing PostgreSQL must fail the tests
// instead of skipping them (CI sets TETHER_TEST_REQUIRE_POSTGRES=1).
func RequirePostgres() bool { return os.Getenv("TETHER_TEST_REQUIRE_POSTGRES") == "1" }

var (
	pgOnce  sync.Once
	pgErr   error
	skipMsg sync.Once
)

func postgresReachable() error {
	pgOnce.Do(func() {
		db, err := store.OpenPostgres(context.Background(), PostgresURL())
		if err != nil {
			pgErr = err
			return
		}
		pgErr = db.Close()
	})
	return pgErr
}

// Each runs fn once per engine as subtests "sqlite" and "postgres", each
// with its own freshly migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EachB is Each for benchmarks.
func EachB(b *testing.B, fn func(b *testing.B, db *bun.DB)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, Postgres(b)) })
}

// SQLite returns a migrated database in a new file under tb.TempDir().
func SQLite(tb testing.TB) *bun.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := store.OpenSQLite(ctx, tb.TempDir()+"/tether.db")
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := store.MigrateUp(ctx, db); err != nil {
		tb.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Postgres returns a migrated database whose search_path is a schema created
// for this test and dropped after it. Without a reachable server it skips
// with one loud line, or fails when RequirePostgres() is true.
func Postgres(tb testing.TB) *bun.DB {
	tb.Helper()
	if err := postgresReachable(); err != nil {
		if RequirePostgres() {
			tb.Fatalf("PostgreSQL required (TETHER_TEST_REQUIRE_POSTGRES=1) but not reachable at %s: %v", redacted(), err)
		}
		skipMsg.Do(func() {
			fmt.Fprintf(os.Stderr, "\n*** POSTGRESQL SUITES SKIPPED: %s not reachable (%v); set TETHER_TEST_POSTGRES_URL ***\n\n", redacted(), err)
		})
		tb.Skipf("PostgreSQL not reachable at %s", redacted())
	}
	ctx := context.Background()
	schema := "t_" + randomHex(8)
	admin, err := store.OpenPostgres(ctx, PostgresURL())
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") //nolint:errcheck
		admin.Close()
	})
	db, err := store.OpenPostgres(ctx, WithSearchPath(PostgresURL(), schema))
	if err != nil {
		tb.Fatalf("open postgres schema %s: %v", schema, err)
	}
	tb.Cleanup(func() { db.Close() })
	if _, err := store.MigrateUp(ctx, db); err != nil {
		tb.Fatalf("migrate postgres: %v", err)
	}
	return db
}

// NewPostgresSchema creates an empty schema for a test that runs the real
// binary, and returns a database URL that points at it.
func NewPostgresSchema(tb testing.TB) string {
	tb.Helper()
	db := Postgres(tb) // migrated, but the binary's own migrate is then a no-op
	var schema string
	if err := db.NewRaw("SELECT current_schema()").Scan(context.Background(), &schema); err != nil {
		tb.Fatalf("current schema: %v", err)
	}
	return WithSearchPath(PostgresURL(), schema)
}

// WithSearchPath adds search_path to a PostgreSQL URL; pgx passes unknown
// parameters to the server as run-time settings.
func WithSearchPath(rawURL, schema string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redacted() string {
	u, err := url.Parse(PostgresURL())
	if err != nil {
		return "(bad TETHER_TEST_POSTGRES_URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
