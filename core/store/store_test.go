package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestMigrationsUpDownUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		head, err := store.AtHead(ctx, db)
		if err != nil || !head {
			t.Fatalf("after migrate up: at head = %v, err = %v", head, err)
		}
		if _, err := store.MigrateDown(ctx, db); err != nil {
			t.Fatalf("migrate down: %v", err)
		}
		head, err = store.AtHead(ctx, db)
		if err != nil || head {
			t.Fatalf("after migrate down: at head = %v, err = %v; want false", head, err)
		}
		st, err := store.Status(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Applied {
				t.Errorf("migration %s still applied after down", s.Name)
			}
		}
		applied, err := store.MigrateUp(ctx, db)
		if err != nil || len(applied) == 0 {
			t.Fatalf("migrate up again: %v, applied %v", err, applied)
		}
	})
}

func TestForeignKeysEnforced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		_, err := db.ExecContext(context.Background(),
			"INSERT INTO members (node_id, email) VALUES (424242, 'x@example.com')")
		if err == nil {
			t.Fatal("insert referencing a missing node succeeded; foreign keys are off")
		}
	})
}

func TestDescribeHidesPassword(t *testing.T) {
	got := store.Config{URL: "postgres://u:secret@db:5432/x"}.Describe()
	if got != "postgres://u@db:5432/x" {
		t.Fatalf("Describe = %q", got)
	}
}

// TestNewerDatabaseIsRefused: a migration applied by a newer version of
// Tether is listed, and migrating either way refuses the database, naming
// it, without touching what is applied.
func TestNewerDatabaseIsRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if st, err := store.SchemaOf(ctx, db); err != nil || len(st.Newer) != 0 || len(st.Pending) != 0 {
			t.Fatalf("a database this version migrated: %+v, %v", st, err)
		}
		if _, err := db.NewRaw(`INSERT INTO tether_migrations (name, group_id, migrated_at) VALUES ('20991231000000', 99, ?)`,
			time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := store.SchemaOf(ctx, db)
		if err != nil || len(st.Newer) != 1 || st.Newer[0] != "20991231000000" || len(st.Pending) != 0 {
			t.Fatalf("schema = %+v, %v; want newer [20991231000000] and nothing pending", st, err)
		}
		for name, step := range map[string]func(context.Context, *bun.DB) ([]string, error){
			"up": store.MigrateUp, "down": store.MigrateDown,
		} {
			if _, err := step(ctx, db); !errors.Is(err, store.ErrNewerDatabase) || !strings.Contains(err.Error(), "20991231000000") {
				t.Errorf("migrate %s: %v, want ErrNewerDatabase naming the migration", name, err)
			}
		}
		status, err := store.Status(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		last := status[len(status)-1]
		if !last.Unknown || !last.Applied || last.Name != "20991231000000" {
			t.Errorf("status ends with %+v", last)
		}
		for _, s := range status[:len(status)-1] {
			if !s.Applied || s.Unknown {
				t.Errorf("%+v after the refused migrate down", s)
			}
		}
	})
}
