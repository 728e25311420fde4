package storetest

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// CountStatements returns a function that tells how many SQL statements db
// ran since CountStatements was called, BEGIN and COMMIT included: on
// PostgreSQL the pool's own count, on SQLite a bun query hook's plus the
// prepared store.Statements' (which bypass bun's hooks).
func CountStatements(db *bun.DB) func() int64 {
	if start, ok := store.PostgresStatements(db); ok {
		return func() int64 {
			n, _ := store.PostgresStatements(db)
			return n - start
		}
	}
	h := &countHook{}
	db.AddQueryHook(h)
	prepared := func() int64 { n, _ := store.SQLiteStatementsRun(db); return n }
	start := prepared()
	return func() int64 { return h.n.Load() + prepared() - start }
}

type countHook struct{ n atomic.Int64 }

func (h *countHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h *countHook) AfterQuery(context.Context, *bun.QueryEvent)                        { h.n.Add(1) }
