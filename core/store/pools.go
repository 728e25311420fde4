package store

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// pool is what the store keeps beside a pool it opened: how many
// statements ran on it, and on SQLite its prepared statements.
type pool struct {
	// ran counts, on PostgreSQL, every statement pgx sent (BEGIN and
	// COMMIT included, whether bun or a Statement sent it: pool is pgx's
	// tracer); on SQLite, the runs of prepared Statements, which bun's
	// query hooks do not see.
	ran    atomic.Int64
	sqlite *sqliteStatements // nil on PostgreSQL
}

func (p *pool) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	p.ran.Add(1)
	return ctx
}

func (p *pool) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// pools holds each pool's state by a weak pointer to its *sql.DB, and
// forgets it when the pool is collected. An SQLite pool's prepared
// statements keep it reachable, so it is forgotten when it closes instead
// (checkpoint notices).
var pools sync.Map

func keepPool(db *sql.DB, p *pool) {
	key := weak.Make(db)
	pools.Store(key, p)
	runtime.AddCleanup(db, func(key weak.Pointer[sql.DB]) { pools.Delete(key) }, key)
}

func forgetPool(db *sql.DB) {
	if p := poolOf(db); p != nil && p.sqlite != nil {
		p.sqlite.close()
	}
	pools.Delete(weak.Make(db))
}

func poolOf(db *sql.DB) *pool {
	p, ok := pools.Load(weak.Make(db))
	if !ok {
		return nil
	}
	return p.(*pool)
}

// PostgresStatements is how many statements a PostgreSQL pool opened by
// OpenPostgres has sent so far; ok is false for any other database.
func PostgresStatements(db *bun.DB) (n int64, ok bool) {
	if p := poolOf(db.DB); p != nil && db.Dialect().Name() == dialect.PG {
		return p.ran.Load(), true
	}
	return 0, false
}

// SQLiteStatementsRun is how many times Statements ran prepared on an SQLite
// pool opened by OpenSQLite (bun's own statements are seen by its query
// hooks); ok is false for any other database.
func SQLiteStatementsRun(db *bun.DB) (n int64, ok bool) {
	if p := poolOf(db.DB); p != nil && p.sqlite != nil {
		return p.ran.Load(), true
	}
	return 0, false
}
