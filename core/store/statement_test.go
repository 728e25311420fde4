package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

type thing struct {
	bun.BaseModel `bun:"table:statement_things"`

	ID     int64      `bun:"id"`
	Name   string     `bun:"name"`
	Parent *int64     `bun:"parent"`
	Flag   bool       `bun:"flag"`
	At     time.Time  `bun:"at"`
	Gone   *time.Time `bun:"gone"`
}

var (
	insertThing = store.NewStatement(`INSERT INTO statement_things (id, name, parent, flag, at, gone) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
	thingByID   = store.NewStatementPG(`SELECT * FROM statement_things WHERE id = ?`,
		`SELECT * FROM statement_things WHERE id = ? FOR NO KEY UPDATE`)
	thingsAfter = store.NewStatement(`SELECT * FROM statement_things WHERE at > ? AND name <> '?' ORDER BY id`)
	countThings = store.NewStatement(`SELECT count(*) FROM statement_things WHERE flag = ?`)
	renameThing = store.NewStatement(`UPDATE statement_things SET name = ? WHERE id = ?`)
)

func TestStatement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		ts := "TIMESTAMP"
		if db.Dialect().Name() == dialect.PG {
			ts = "TIMESTAMPTZ"
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE statement_things (id BIGINT PRIMARY KEY, name TEXT NOT NULL,
			parent BIGINT, flag BOOLEAN NOT NULL, at `+ts+` NOT NULL, gone `+ts+`)`); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 26, 5, 0, 0, 123456000, time.UTC)
		one := int64(1)
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// Run each more often than PostgreSQL's five custom plans, so the
			// generic plan is used too.
			for i := int64(1); i <= 8; i++ {
				var parent *int64
				var gone *time.Time
				if i%2 == 0 {
					parent, gone = &one, &base
				}
				var id int64
				if err := insertThing.Scan(ctx, tx, &id, i, "thing", parent, i%2 == 0, base.Add(time.Duration(i)*time.Second), gone); err != nil {
					return err
				}
				if id != i {
					t.Errorf("RETURNING id = %d, want %d", id, i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		var got thing
		if err := thingByID.Scan(ctx, db, &got, int64(2)); err != nil {
			t.Fatal(err)
		}
		want := thing{ID: 2, Name: "thing", Parent: &one, Flag: true, At: base.Add(2 * time.Second), Gone: &base}
		if got.ID != want.ID || got.Name != want.Name || got.Parent == nil || *got.Parent != 1 || !got.Flag ||
			!got.At.Equal(want.At) || got.Gone == nil || !got.Gone.Equal(base) {
			t.Errorf("thing 2 = %+v, want %+v", got, want)
		}
		var third thing
		if err := thingByID.Scan(ctx, db, &third, int64(3)); err != nil || third.Parent != nil || third.Gone != nil || third.Flag {
			t.Errorf("thing 3 = %+v, %v; want no parent, not gone, no flag", third, err)
		}
		if err := thingByID.Scan(ctx, db, &got, int64(99)); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("missing thing: err = %v, want sql.ErrNoRows", err)
		}

		var after []thing
		if err := thingsAfter.Scan(ctx, db, &after, base.Add(6*time.Second)); err != nil {
			t.Fatal(err)
		}
		if len(after) != 2 || after[0].ID != 7 || after[1].ID != 8 {
			t.Errorf("things after 6 s = %+v, want 7 and 8", after)
		}
		var none []thing
		if err := thingsAfter.Scan(ctx, db, &none, base.Add(time.Hour)); err != nil || len(none) != 0 {
			t.Errorf("things after an hour = %+v, %v; want none and no error", none, err)
		}

		// A time bun wrote compares with a bound one as the times do.
		late := thing{ID: 100, Name: "bun", At: base.Add(100 * time.Second)}
		if _, err := db.NewInsert().Model(&late).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			after time.Time
			want  int
		}{
			{base.Add(100*time.Second - time.Microsecond), 1},
			{base.Add(100 * time.Second), 0},
			{base.Add(100 * time.Second).In(time.FixedZone("UTC+2", 7200)), 0},
		} {
			var got []thing
			if err := thingsAfter.Scan(ctx, db, &got, tc.after); err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("things after %v: %d, want %d", tc.after, len(got), tc.want)
			}
		}

		// Query hands the rows over, on the pool, in a transaction and on
		// a single connection (which goes through bun on SQLite).
		ids := func(db bun.IDB) []int64 {
			t.Helper()
			rows, err := thingsAfter.Query(ctx, db, base.Add(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []int64
			for rows.Next() {
				var th thing
				if err := rows.Scan(&th.ID, &th.Name, &th.Parent, &th.Flag, &th.At, &th.Gone); err != nil {
					t.Fatal(err)
				}
				out = append(out, th.ID)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := ids(db); len(got) != 4 || got[0] != 6 || got[3] != 100 {
			t.Errorf("Query on the pool: things after 5 s = %v, want 6, 7, 8, 100", got)
		}
		if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if got := ids(tx); len(got) != 4 {
				t.Errorf("Query in a transaction: %v", got)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		qconn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(qconn); len(got) != 4 {
			t.Errorf("Query on a connection: %v", got)
		}
		qconn.Close()

		var n int
		if err := countThings.Scan(ctx, db, &n, true); err != nil || n != 4 {
			t.Errorf("count flagged = %d, %v; want 4", n, err)
		}
		res, err := renameThing.Exec(ctx, db, "renamed", int64(5))
		if err != nil {
			t.Fatal(err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			t.Errorf("rename: %d rows affected, want 1", k)
		}
		if err := thingByID.Scan(ctx, db, &got, int64(5)); err != nil || got.Name != "renamed" {
			t.Errorf("after rename: %+v, %v", got, err)
		}

		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := countThings.Scan(ctx, conn, &n, false); err != nil || n != 5 {
			t.Errorf("count on a conn = %d, %v; want 5 (four odd things and bun's)", n, err)
		}
		if db.Dialect().Name() == dialect.PG {
			var prepared int
			if err := conn.NewRaw(`SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT count(*) FROM statement_things WHERE flag = $1'`).Scan(ctx, &prepared); err != nil {
				t.Fatal(err)
			}
			if prepared != 1 {
				t.Errorf("the connection has %d prepared statements for countThings, want 1", prepared)
			}
		}
	})
}

func TestPostgresStatements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		before, ok := store.PostgresStatements(db)
		if db.Dialect().Name() != dialect.PG {
			if ok {
				t.Fatal("PostgresStatements counts on SQLite")
			}
			return
		}
		if !ok {
			t.Fatal("PostgresStatements has no count for a PostgreSQL pool")
		}
		ctx := context.Background()
		var n int
		if err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return store.NewStatement(`SELECT ?::int + 1`).Scan(ctx, tx, &n, 1)
		}); err != nil || n != 2 {
			t.Fatalf("select = %d, %v", n, err)
		}
		after, _ := store.PostgresStatements(db)
		if after-before != 3 {
			t.Errorf("a transaction of one statement counted %d statements, want 3 (BEGIN, SELECT, COMMIT)", after-before)
		}
	})
}

func TestStatementPlaceholdersMustMatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewStatementPG accepted forms with 1 and 2 placeholders")
		}
	}()
	store.NewStatementPG(`SELECT ?`, `SELECT ?, ?`)
}

func TestSQLiteStatementsRun(t *testing.T) {
	db := storetest.SQLite(t)
	before, ok := store.SQLiteStatementsRun(db)
	if !ok {
		t.Fatal("SQLiteStatementsRun has no count for a pool OpenSQLite opened")
	}
	ctx := context.Background()
	var n int
	for range 3 {
		if err := store.NewStatement(`SELECT ? + 1`).Scan(ctx, db, &n, 1); err != nil || n != 2 {
			t.Fatalf("select = %d, %v", n, err)
		}
	}
	if after, _ := store.SQLiteStatementsRun(db); after-before != 3 {
		t.Errorf("three runs counted %d", after-before)
	}
}

// TestColumnsSurviveANewColumn: a statement that names its model's columns
// still scans once a migration added a column the model does not know.
func TestColumnsSurviveANewColumn(t *testing.T) {
	if got, want := store.Columns((*thing)(nil), "t"), "t.id, t.name, t.parent, t.flag, t.at, t.gone"; got != want {
		t.Errorf("Columns = %q, want %q", got, want)
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		for _, q := range []string{
			`CREATE TABLE statement_things (id BIGINT PRIMARY KEY, name TEXT NOT NULL, parent BIGINT, flag BOOLEAN NOT NULL, at TEXT NOT NULL, gone TEXT)`,
			`INSERT INTO statement_things (id, name, flag, at) VALUES (1, 'one', FALSE, '2026-11-26 06:00:00+00:00')`,
			`ALTER TABLE statement_things ADD COLUMN added_later TEXT NOT NULL DEFAULT ''`,
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		byID := store.NewStatement(`SELECT ` + store.Columns((*thing)(nil), "") + ` FROM statement_things WHERE id = ?`)
		var got thing
		if err := byID.Scan(ctx, db, &got, int64(1)); err != nil || got.Name != "one" {
			t.Fatalf("scan after a new column: %+v, %v", got, err)
		}
	})
}

func TestPlaceholdersAndByCount(t *testing.T) {
	for n, want := range []string{"", "?", "?, ?", "?, ?, ?"} {
		if got := store.Placeholders(n); got != want {
			t.Errorf("Placeholders(%d) = %q, want %q", n, got, want)
		}
	}
	made := 0
	in := store.NewByCount(func(n int) string { made++; return "SELECT 1 WHERE 1 IN (" + store.Placeholders(n) + ")" })
	if in.For(2) != in.For(2) || made != 1 {
		t.Errorf("For(2) twice made %d statements, want one kept", made)
	}
	if got := in.For(3).String(); got != "SELECT 1 WHERE 1 IN (?, ?, ?)" {
		t.Errorf("For(3) = %q", got)
	}
}
