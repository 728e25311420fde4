package storetest

import (
	"context"
	"io/fs"
	"strings"
	"testing"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/tetherhq/tether/core/store"
)

// MigrateBefore takes db, migrated by Each, back to what a hub without
// migration version (its file name's timestamp, "20261125000016") had:
// every migration rolled back, then every one applied but that one. The
// test then writes rows as the older hub did and runs store.MigrateUp,
// which applies the missing migration to them.
func MigrateBefore(tb testing.TB, db *bun.DB, version string) {
	tb.Helper()
	ctx := context.Background()
	if _, err := store.MigrateDown(ctx, db); err != nil {
		tb.Fatal(err)
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(withoutMigration{store.MigrationFiles(), version}); err != nil {
		tb.Fatal(err)
	}
	old := migrate.NewMigrator(db, ms, migrate.WithTemplateData(store.TemplateData(db)), migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTableName(store.MigrationsTable), migrate.WithLocksTableName(store.MigrationLocksTable))
	if _, err := old.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
}

// withoutMigration hides one migration's files.
type withoutMigration struct {
	fs.FS
	prefix string
}

func (w withoutMigration) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := fs.ReadDir(w.FS, name)
	var out []fs.DirEntry
	for _, e := range all {
		if !strings.HasPrefix(e.Name(), w.prefix) {
			out = append(out, e)
		}
	}
	return out, err
}
