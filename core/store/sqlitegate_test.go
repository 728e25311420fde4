package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The gate is SQLite's alone (PostgreSQL has row locks and no busy
// handler), so these tests open SQLite only.

func openGated(t *testing.T, timeout time.Duration) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "gate.db") + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db := sql.OpenDB(newGatedConnector(dsn, timeout))
	db.SetMaxIdleConns(sqliteIdleConns)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE counter (n INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO counter (n) VALUES (0)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT n FROM counter`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGateLosesNoWrite: writers in transactions (read, then write what
// they read plus one), writers outside them, prepared ones and rolled back
// ones, all at once: every increment that committed is there, and the gate
// is free at the end.
func TestGateLosesNoWrite(t *testing.T) {
	db := openGated(t, 10*time.Second)
	ctx := context.Background()
	inc, err := db.PrepareContext(ctx, `UPDATE counter SET n = n + 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer inc.Close()
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				var err error
				switch (w + i) % 4 {
				case 0: // read-modify-write: loses updates unless writers are serial
					err = inTx(ctx, db, func(tx *sql.Tx) error {
						var n int
						if err := tx.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil {
							return err
						}
						_, err := tx.ExecContext(ctx, `UPDATE counter SET n = ?`, n+1)
						return err
					})
				case 1:
					_, err = db.ExecContext(ctx, `UPDATE counter SET n = n + 1`)
				case 2:
					_, err = inc.ExecContext(ctx)
				case 3: // a write that returns rows, outside a transaction
					var n int
					err = db.QueryRowContext(ctx, `UPDATE counter SET n = n + 1 RETURNING n`).Scan(&n)
				}
				if err == nil {
					// A rolled-back write changes nothing and frees the gate.
					err = inTx(ctx, db, func(tx *sql.Tx) error {
						if _, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1000`); err != nil {
							return err
						}
						return errRollBack
					})
					if errors.Is(err, errRollBack) {
						err = nil
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := count(t, db); n != workers*rounds {
		t.Fatalf("counter = %d, want %d", n, workers*rounds)
	}
}

var errRollBack = errors.New("roll back")

func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// TestGateWaitsThenGivesUp: while a transaction is open, a writer outside
// it waits; past the timeout it fails with a clear error and wrote
// nothing; a reader is never held up; once the transaction commits the
// next writer goes in.
func TestGateWaitsThenGivesUp(t *testing.T) {
	db := openGated(t, 150*time.Millisecond)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE counter SET n = 5`); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db); n != 0 {
		t.Fatalf("a reader saw %d during the transaction, want the committed 0", n)
	}
	_, err = db.ExecContext(ctx, `UPDATE counter SET n = n + 1`)
	if !errors.Is(err, errGateTimeout) {
		t.Fatalf("writer during a long transaction: %v, want %v", err, errGateTimeout)
	}
	// A cancelled writer gives up at once with its context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.ExecContext(cctx, `UPDATE counter SET n = n + 1`); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled writer: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE counter SET n = n + 1`); err != nil {
		t.Fatalf("writer after the commit: %v", err)
	}
	if n := count(t, db); n != 6 {
		t.Fatalf("counter = %d, want 6", n)
	}
}

// TestGateFreedByAbandonedTransaction: a transaction whose context ends is
// rolled back by database/sql, which frees the gate for the next writer.
func TestGateFreedByAbandonedTransaction(t *testing.T) {
	db := openGated(t, 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`UPDATE counter SET n = 99`); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := db.Exec(`UPDATE counter SET n = n + 1`); err != nil {
		t.Fatalf("writer after an abandoned transaction: %v", err)
	}
	if n := count(t, db); n != 1 {
		t.Fatalf("counter = %d, want 1 (the abandoned 99 rolled back)", n)
	}
}

func TestWritesClassifiesStatements(t *testing.T) {
	for _, c := range []struct {
		query string
		write bool
	}{
		{"SELECT 1", false},
		{"  select * from sessions", false},
		{"(SELECT 1) UNION (SELECT 2)", false},
		{"WITH RECURSIVE p(id) AS (SELECT 1) SELECT id FROM p", false},
		{"PRAGMA wal_checkpoint(PASSIVE)", false},
		{"EXPLAIN QUERY PLAN SELECT 1", false},
		{"VALUES (1)", false},
		{"INSERT INTO t VALUES (1)", true},
		{"UPDATE t SET a = 1", true},
		{"DELETE FROM t", true},
		{"REPLACE INTO t VALUES (1)", true},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", true},
		{"WITH x AS (SELECT 1) DELETE FROM t WHERE a IN x", true},
		{"CREATE TABLE t (a)", true},
		{"BEGIN", true},
		{"", true},
	} {
		if got := writes(c.query); got != c.write {
			t.Errorf("writes(%q) = %v, want %v", c.query, got, c.write)
		}
	}
}
