package store_test

import (
	"context"
	"testing"

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
