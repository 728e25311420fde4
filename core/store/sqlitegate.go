package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// SQLite lets one writer at a time into a database, and a connection that
// finds the write lock taken sleeps in its busy handler: 1 ms, then 2, 5,
// 10, 15 ... until the lock is free. A chat message whose transaction
// holds the lock for a third of a millisecond thus waited 10 ms and more
// as soon as a few sessions chatted at once. Within the hub's process the
// writers queue at a gate instead, a Go channel that hands the lock to the
// next writer the moment the last one commits; SQLite's busy handler is
// left for writers in other processes (a tether command run beside the
// hub).
//
// Every transaction is a writer (they begin IMMEDIATE), and so is a
// statement outside a transaction that is not a read (writes, below).

// gate is one database's writers' turn: a channel holding a token while a
// writer of this process has the turn.
type gate chan struct{}

// errGateTimeout is a writer that waited as long as SQLite's busy timeout.
var errGateTimeout = errors.New("database is locked: another writer held it for too long")

func (g gate) enter(ctx context.Context, timeout time.Duration) error {
	select {
	case g <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errGateTimeout
	}
}

func (g gate) leave() { <-g }

// gatedConnector opens modernc.org/sqlite connections that share one gate.
type gatedConnector struct {
	dsn     string
	drv     *sqlite.Driver
	gate    gate
	timeout time.Duration
}

func newGatedConnector(dsn string, timeout time.Duration) *gatedConnector {
	return &gatedConnector{dsn: dsn, drv: &sqlite.Driver{}, gate: make(gate, 1), timeout: timeout}
}

func (c *gatedConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(sqliteConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: modernc.org/sqlite connection %T lacks the context methods", conn)
	}
	return &gatedConn{sqliteConn: inner, c: c}, nil
}

func (c *gatedConnector) Driver() driver.Driver { return c.drv }

// sqliteConn is what a modernc.org/sqlite connection implements.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// gatedConn is a connection whose writers take the gate: a transaction
// from BeginTx to Commit or Rollback, any other write for its statement
// (and the rows it returns). database/sql uses a connection from one
// goroutine at a time, so inTx needs no lock.
type gatedConn struct {
	sqliteConn
	c    *gatedConnector
	inTx bool
}

func (g *gatedConn) Begin() (driver.Tx, error) {
	return g.BeginTx(context.Background(), driver.TxOptions{})
}

func (g *gatedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := g.c.gate.enter(ctx, g.c.timeout); err != nil {
		return nil, err
	}
	tx, err := g.sqliteConn.BeginTx(ctx, opts)
	if err != nil {
		g.c.gate.leave()
		return nil, err
	}
	g.inTx = true
	return &gatedTx{Tx: tx, conn: g}, nil
}

// outside takes the gate for a write outside a transaction; done gives it
// back.
func (g *gatedConn) outside(ctx context.Context, query string) (done func(), err error) {
	if g.inTx || !writes(query) {
		return func() {}, nil
	}
	if err := g.c.gate.enter(ctx, g.c.timeout); err != nil {
		return nil, err
	}
	return g.c.gate.leave, nil
}

func (g *gatedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	done, err := g.outside(ctx, query)
	if err != nil {
		return nil, err
	}
	defer done()
	return g.sqliteConn.ExecContext(ctx, query, args)
}

func (g *gatedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	done, err := g.outside(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := g.sqliteConn.QueryContext(ctx, query, args)
	return holdUntilClosed(rows, err, done)
}

func (g *gatedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := g.sqliteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	inner, ok := st.(sqliteStmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store: modernc.org/sqlite statement %T lacks the context methods", st)
	}
	return &gatedStmt{sqliteStmt: inner, conn: g, query: query}, nil
}

func (g *gatedConn) Prepare(query string) (driver.Stmt, error) {
	return g.PrepareContext(context.Background(), query)
}

// Close gives the gate back if the connection goes with its transaction
// still open.
func (g *gatedConn) Close() error {
	if g.inTx {
		g.inTx = false
		g.c.gate.leave()
	}
	return g.sqliteConn.Close()
}

type gatedTx struct {
	driver.Tx
	conn *gatedConn
}

func (t *gatedTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

func (t *gatedTx) end() {
	if t.conn.inTx {
		t.conn.inTx = false
		t.conn.c.gate.leave()
	}
}

// sqliteStmt is what a modernc.org/sqlite statement implements.
type sqliteStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type gatedStmt struct {
	sqliteStmt
	conn  *gatedConn
	query string
}

func (s *gatedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	done, err := s.conn.outside(ctx, s.query)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.sqliteStmt.ExecContext(ctx, args)
}

func (s *gatedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	done, err := s.conn.outside(ctx, s.query)
	if err != nil {
		return nil, err
	}
	rows, err := s.sqliteStmt.QueryContext(ctx, args)
	return holdUntilClosed(rows, err, done)
}

// holdUntilClosed keeps the gate until rows (a write's RETURNING, stepped
// as they are read) are closed.
func holdUntilClosed(rows driver.Rows, err error, done func()) (driver.Rows, error) {
	if err != nil {
		done()
		return nil, err
	}
	inner, ok := rows.(sqliteRows)
	if !ok {
		done()
		rows.Close()
		return nil, fmt.Errorf("store: modernc.org/sqlite rows %T lack the column type methods", rows)
	}
	return &gatedRows{sqliteRows: inner, done: done}, nil
}

// sqliteRows is what modernc.org/sqlite rows implement.
type sqliteRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	ColumnTypeScanType(index int) reflect.Type
}

type gatedRows struct {
	sqliteRows
	done func()
}

func (r *gatedRows) Close() error {
	err := r.sqliteRows.Close()
	if r.done != nil {
		r.done()
		r.done = nil
	}
	return err
}

// writes reports whether a statement outside a transaction may write: all
// but reads (SELECT, EXPLAIN, a WITH whose statement is a SELECT) and
// PRAGMAs, which take no write lock (wal_checkpoint(PASSIVE) waits for
// nobody) or only change the connection. A write taken for a read only
// waits its turn; a read taken for a write only meets the busy handler.
func writes(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	word := q
	if i := strings.IndexAny(q, " \t\r\n("); i >= 0 {
		word = q[:i]
	}
	switch strings.ToUpper(word) {
	case "SELECT", "EXPLAIN", "PRAGMA", "VALUES":
		return false
	case "WITH":
		u := strings.ToUpper(q)
		for _, w := range []string{"INSERT ", "UPDATE ", "DELETE ", "REPLACE "} {
			if strings.Contains(u, w) {
				return true
			}
		}
		return false
	}
	return true
}
