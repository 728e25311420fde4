package store

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// A Statement is one SQL statement on a hot path, written once with ?
// placeholders. PostgreSQL gets it with $n parameters in the extended
// protocol, prepared once per connection (pgx's statement cache) and
// planned generically after a few runs; bun would write the values into
// the text and make PostgreSQL parse and plan it afresh every time, which
// was half of its CPU in a session's lifecycle. On an SQLite pool opened by
// OpenSQLite it is prepared once per pooled connection too (sqlitestmts.go),
// its times bound as bun writes them; elsewhere it goes through bun.
//
// Prepared statements bypass bun's query hooks: PostgresStatements and
// SQLiteStatementsRun count them.
type Statement struct {
	text string // ? placeholders, for bun
	pg   string // $n placeholders
}

// NewStatement makes a Statement of text, the same on both engines.
func NewStatement(text string) *Statement { return NewStatementPG(text, text) }

// NewStatementPG makes a Statement whose PostgreSQL form differs (a locking
// clause SQLite does not have, say). Both take the same arguments.
func NewStatementPG(text, pgText string) *Statement {
	if n, m := countPlaceholders(text), countPlaceholders(pgText); n != m {
		panic(fmt.Sprintf("store: statement has %d placeholders but its PostgreSQL form %d", n, m))
	}
	return &Statement{text: text, pg: numberPlaceholders(pgText)}
}

// String is the statement's text with ? placeholders.
func (s *Statement) String() string { return s.text }

// PostgresString is the statement's PostgreSQL text, with $n parameters.
func (s *Statement) PostgresString() string { return s.pg }

// Exec runs the statement on db: a *bun.DB, a bun.Tx or a bun.Conn.
func (s *Statement) Exec(ctx context.Context, db bun.IDB, args ...any) (sql.Result, error) {
	if db.Dialect().Name() != dialect.PG {
		st, ok, err := s.sqlite(ctx, db)
		if err != nil {
			return nil, err
		}
		if !ok {
			return db.NewRaw(s.text, args...).Exec(ctx)
		}
		return st.ExecContext(ctx, sqliteArgs(args)...)
	}
	q, err := querierOf(db)
	if err != nil {
		return nil, err
	}
	return q.ExecContext(ctx, s.pg, prepared(args)...)
}

// Scan runs the statement on db and scans its result into dest as bun
// would: a struct or a scalar takes the first row (sql.ErrNoRows when there
// is none), a slice takes them all.
func (s *Statement) Scan(ctx context.Context, db bun.IDB, dest any, args ...any) error {
	rows, ok, err := s.rows(ctx, db, args)
	if err != nil {
		return err
	}
	if !ok {
		return db.NewRaw(s.text, args...).Scan(ctx, dest)
	}
	bdb := bunDB(db)
	if isSlice(dest) {
		return bdb.ScanRows(ctx, rows, dest)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := bdb.ScanRow(ctx, rows, dest); err != nil {
		return err
	}
	for rows.Next() {
	}
	return rows.Err()
}

// Query runs the statement on db and returns its rows, for a caller that
// scans them itself.
func (s *Statement) Query(ctx context.Context, db bun.IDB, args ...any) (*sql.Rows, error) {
	rows, ok, err := s.rows(ctx, db, args)
	if err == nil && !ok {
		return db.QueryContext(ctx, s.text, args...)
	}
	return rows, err
}

// rows runs the statement prepared; ok is false, with nothing run, where
// it cannot be (an SQLite pool that keeps no prepared statements).
func (s *Statement) rows(ctx context.Context, db bun.IDB, args []any) (_ *sql.Rows, ok bool, _ error) {
	if db.Dialect().Name() != dialect.PG {
		st, ok, err := s.sqlite(ctx, db)
		if err != nil || !ok {
			return nil, false, err
		}
		rows, err := st.QueryContext(ctx, sqliteArgs(args)...)
		return rows, true, err
	}
	q, err := querierOf(db)
	if err != nil {
		return nil, false, err
	}
	rows, err := q.QueryContext(ctx, s.pg, prepared(args)...)
	return rows, true, err
}

// sqlite is the statement prepared on db's SQLite pool, bound to db's
// transaction if db is one; ok is false when the pool keeps no prepared
// statements (not opened by OpenSQLite) or db is a single connection.
func (s *Statement) sqlite(ctx context.Context, db bun.IDB) (*sql.Stmt, bool, error) {
	var tx *sql.Tx
	switch d := db.(type) {
	case *bun.DB:
	case bun.Tx:
		tx = d.Tx
	case *bun.Tx:
		tx = d.Tx
	default:
		return nil, false, nil
	}
	p := poolOf(bunDB(db).DB)
	if p == nil || p.sqlite == nil {
		return nil, false, nil
	}
	st, err := p.sqlite.get(ctx, s.text)
	if err != nil {
		return nil, false, err
	}
	p.ran.Add(1)
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st, true, nil
}

// bunDB is the *bun.DB that db (a *bun.DB, a bun.Tx or a bun.Conn) runs
// on. A raw query is the smallest way bun gives it for a Tx or a Conn.
func bunDB(db bun.IDB) *bun.DB {
	if d, ok := db.(*bun.DB); ok {
		return d
	}
	return db.NewRaw("").DB()
}

// querier is what *sql.DB, *sql.Tx and *sql.Conn share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func querierOf(db bun.IDB) (querier, error) {
	switch d := db.(type) {
	case *bun.DB:
		return d.DB, nil
	case bun.Tx:
		return d.Tx, nil
	case *bun.Tx:
		return d.Tx, nil
	case bun.Conn:
		return d.Conn, nil
	case *bun.Conn:
		return d.Conn, nil
	}
	return nil, fmt.Errorf("store: cannot run a statement on %T", db)
}

// prepared puts pgx's statement-cache mode in front of the arguments; pgx
// reads it as an option, not as a parameter.
func prepared(args []any) []any {
	out := make([]any, 0, len(args)+1)
	out = append(out, pgx.QueryExecModeCacheStatement)
	return append(out, args...)
}

func isSlice(dest any) bool {
	t := reflect.TypeOf(dest)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Slice
}

// numberPlaceholders turns each ? outside quotes into $1, $2, ...
func numberPlaceholders(text string) string {
	var b strings.Builder
	n := 0
	walkPlaceholders(text, func(literal string, placeholder bool) {
		b.WriteString(literal)
		if placeholder {
			n++
			b.WriteString("$" + strconv.Itoa(n))
		}
	})
	return b.String()
}

func countPlaceholders(text string) int {
	n := 0
	walkPlaceholders(text, func(_ string, placeholder bool) {
		if placeholder {
			n++
		}
	})
	return n
}

// walkPlaceholders hands text to fn in pieces, each followed by whether a ?
// placeholder comes after it. Quoted strings and identifiers are skipped.
func walkPlaceholders(text string, fn func(literal string, placeholder bool)) {
	start := 0
	var quote byte
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			fn(text[start:i], true)
			start = i + 1
		}
	}
	fn(text[start:], false)
}

// ColumnNames lists the columns of model's table (a pointer to a bun
// model) in field order, but those in except.
func ColumnNames(model any, except ...string) []string {
	table := unconnected.Table(reflect.TypeOf(model).Elem())
	names := make([]string, 0, len(table.Fields))
	for _, f := range table.Fields {
		if !slices.Contains(except, f.Name) {
			names = append(names, f.Name)
		}
	}
	return names
}

// Columns is the select list of model's table, each column prefixed with
// alias and a dot if alias is not empty: a statement that names its
// columns keeps working on a hub process whose model predates a migration
// that added one, where SELECT * would hand bun a column it does not know.
func Columns(model any, alias string) string {
	names := ColumnNames(model)
	if alias != "" {
		for i, n := range names {
			names[i] = alias + "." + n
		}
	}
	return strings.Join(names, ", ")
}

// Placeholders is n placeholders for a list: "?, ?, ?".
func Placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// ByCount is a family of Statements that differ only in how many values a
// list holds (IN (?, ?), VALUES (...), (...)): one Statement per count,
// made on first use.
type ByCount struct {
	text func(n int) string
	made sync.Map // int -> *Statement
}

// NewByCount makes the family whose Statement for n values is text(n).
func NewByCount(text func(n int) string) *ByCount { return &ByCount{text: text} }

// For is the family's Statement for n values.
func (b *ByCount) For(n int) *Statement {
	if s, ok := b.made.Load(n); ok {
		return s.(*Statement)
	}
	s, _ := b.made.LoadOrStore(n, NewStatement(b.text(n)))
	return s.(*Statement)
}

// ByText keeps one Statement per text, made on first use: for statements
// assembled from parts, which take few enough shapes to keep them all.
type ByText struct{ made sync.Map } // string -> *Statement

// For is the Statement of text.
func (b *ByText) For(text string) *Statement {
	if s, ok := b.made.Load(text); ok {
		return s.(*Statement)
	}
	s, _ := b.made.LoadOrStore(text, NewStatement(text))
	return s.(*Statement)
}

// unconnected never connects: it reads models' table metadata and formats
// values as bun does for SQLite.
var unconnected = bun.NewDB(nil, sqlitedialect.New())
