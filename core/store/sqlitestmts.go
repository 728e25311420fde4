package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"
)

// sqliteStatements keeps one SQLite pool's prepared statements, by text:
// SQLite parses and compiles a statement on every run otherwise, which was
// a sixth of the relay's CPU for a chat message. database/sql prepares a
// Stmt again on each pooled connection it meets, once.
type sqliteStatements struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	done  bool
}

var errPoolClosed = errors.New("store: the SQLite pool is closed")

func (c *sqliteStatements) get(ctx context.Context, text string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil, errPoolClosed
	}
	if st, ok := c.stmts[text]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[text] = st
	return st, nil
}

func (c *sqliteStatements) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}

// sqliteArgs writes times as bun's dialect writes them into SQLite's text
// columns, so that values bound here and values bun formatted compare as
// text the same way; other values bind as they are.
func sqliteArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			out[i] = sqliteTime(v)
		case *time.Time:
			if v == nil {
				out[i] = nil
			} else {
				out[i] = sqliteTime(*v)
			}
		default:
			out[i] = a
		}
	}
	return out
}

func sqliteTime(t time.Time) string {
	return strings.Trim(string(unconnected.Dialect().AppendTime(nil, t)), "'")
}
