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
)

// statementCounter counts the statements pgx sends, BEGIN and COMMIT
// included, whether bun or a Statement sent them.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// counters holds each PostgreSQL pool's counter, by a weak pointer to its
// *sql.DB, and forgets it when the pool is collected.
var counters sync.Map

func keepCounter(db *sql.DB, c *statementCounter) {
	key := weak.Make(db)
	counters.Store(key, c)
	runtime.AddCleanup(db, func(key weak.Pointer[sql.DB]) { counters.Delete(key) }, key)
}

// PostgresStatements is how many statements a PostgreSQL pool opened by
// OpenPostgres has sent so far; ok is false for any other database.
func PostgresStatements(db *bun.DB) (n int64, ok bool) {
	c, found := counters.Load(weak.Make(db.DB))
	if !found {
		return 0, false
	}
	return c.(*statementCounter).n.Load(), true
}

// SQLiteStatementsRun is how many times Statements ran prepared on an SQLite
// pool opened by OpenSQLite (bun's own statements are seen by its query
// hooks); ok is false for any other database.
func SQLiteStatementsRun(db *bun.DB) (n int64, ok bool) {
	c := sqliteStatementsOf(db.DB)
	if c == nil {
		return 0, false
	}
	return c.ran.Load(), true
}
