package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// Dialect names the database engine behind a *bun.DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Config says which database to open. An empty URL means the embedded SQLite
// file tether.db inside DataDir.
type Config struct {
	URL     string
	DataDir string
}

// Describe returns where the database lives, with any password removed, for logs.
func (c Config) Describe() string {
	if c.URL == "" {
		return "sqlite:" + filepath.Join(c.DataDir, "tether.db")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return "(unparseable database URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	return u.Redacted()
}

// DialectOf reports the dialect of an open database.
func DialectOf(db *bun.DB) Dialect {
	if db.Dialect().Name().String() == "pg" {
		return Postgres
	}
	return SQLite
}

// Open opens the database described by cfg. PostgreSQL URLs (postgres:// or
// postgresql://) use pgx's database/sql driver so that other libraries (River)
// can share the pool; anything else is refused unless it is a sqlite: URL.
func Open(ctx context.Context, cfg Config, log hclog.Logger) (*bun.DB, error) {
	switch {
	case cfg.URL == "":
		if cfg.DataDir == "" {
			return nil, fmt.Errorf("open database: neither a database URL nor a data directory is set")
		}
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("open database: create data directory: %w", err)
		}
		return OpenSQLite(ctx, filepath.Join(cfg.DataDir, "tether.db"))
	case strings.HasPrefix(cfg.URL, "postgres://"), strings.HasPrefix(cfg.URL, "postgresql://"):
		return OpenPostgres(ctx, cfg.URL)
	case strings.HasPrefix(cfg.URL, "sqlite:"):
		return OpenSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(cfg.URL, "sqlite:"), "//"))
	default:
		return nil, fmt.Errorf("open database: unsupported database URL scheme in %q (want postgres:// or sqlite:)", cfg.Describe())
	}
}

// OpenSQLite opens (creating it if needed) the SQLite file at path with WAL
// journaling, foreign keys, a busy timeout and immediate write transactions,
// so that concurrent writers wait for each other instead of failing.
//
// SQLite's automatic checkpoint runs inside whichever commit crosses the
// threshold, with an fsync, which made one chat message in a few hundred
// wait 5-10 ms. Instead a background goroutine checkpoints every 100 ms
// (PASSIVE: it never blocks readers or writers) until the database closes,
// and then forgets the pool's prepared statements.
func OpenSQLite(ctx context.Context, path string) (*bun.DB, error) {
	dsn := "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(" + strconv.FormatInt(sqliteBusyTimeout.Milliseconds(), 10) +
		")&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_txlock=immediate&_time_format=sqlite"
	// The hub's own writers queue at a gate (sqlitegate.go) rather than
	// in SQLite's busy handler.
	sqldb := sql.OpenDB(newGatedConnector(dsn, sqliteBusyTimeout))
	// database/sql keeps 2 idle connections by default: with more users
	// at once, the others were closed after each use and the next one
	// opened a connection afresh and prepared its statements again (a
	// seventh of the hub's CPU with 8 sessions chatting). The number open
	// stays unbounded: a writer's transaction may read through the pool
	// while other writers wait at the gate holding a connection each.
	sqldb.SetMaxIdleConns(sqliteIdleConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	keepPool(sqldb, &pool{sqlite: &sqliteStatements{db: sqldb}})
	go checkpoint(db)
	return db, nil
}

const (
	// sqliteBusyTimeout is how long a writer waits for another to finish.
	sqliteBusyTimeout = 10 * time.Second
	// sqliteIdleConns is how many SQLite connections stay open unused.
	sqliteIdleConns = 16
)

// checkpoint copies the WAL back into the database file every 100 ms until
// the database is closed.
func checkpoint(db *bun.DB) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for range t.C {
		if _, err := db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)"); errors.Is(err, sql.ErrConnDone) || (err != nil && strings.Contains(err.Error(), "database is closed")) {
			forgetPool(db.DB)
			return
		}
	}
}

// MaxOpenConns is the size of the PostgreSQL pool.
const MaxOpenConns = 20

// OpenPostgres opens a PostgreSQL pool through pgx's database/sql driver.
func OpenPostgres(ctx context.Context, dsn string) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// bun writes every value into the SQL text itself, so pgx has nothing
	// to bind: the extended protocol's prepare round trip per statement is
	// pure cost. (A DSN that sets default_query_exec_mode keeps its choice.)
	if !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	p := &pool{}
	cfg.Tracer = p
	sqldb := stdlib.OpenDB(*cfg)
	keepPool(sqldb, p)
	sqldb.SetMaxOpenConns(MaxOpenConns)
	// Keep the connections open: the default of 2 idle ones made a busy hub
	// open a new PostgreSQL connection for about a third of its queries.
	sqldb.SetMaxIdleConns(MaxOpenConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, pgdialect.New())
	if err := ping(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return db, nil
}

func ping(ctx context.Context, db *bun.DB) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
