package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

func (a *app) migrateCmd() *cobra.Command {
	var db store.Config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list the database schema migrations",
		Long: `Apply, roll back or list the database schema migrations. tether serve applies
pending migrations itself; these commands are for upgrades done by hand and for rollbacks.

Every flag can also be set through the environment variable shown beside it; a flag
given on the command line wins over the environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	f := cmd.PersistentFlags()
	f.StringVar(&db.DataDir, "data-dir", "./tether-data", "directory for the hub's files, including the embedded SQLite database")
	f.StringVar(&db.URL, "database-url", "", "PostgreSQL URL (postgres://user:password@host:port/db); empty means SQLite in the data directory")
	bindEnv(f)

	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), db, true, func(ctx context.Context, d *bun.DB) error {
				names, err := a.migrateUp(ctx, d)
				for _, n := range names {
					fmt.Fprintln(a.stdout, "applied", n)
				}
				return err
			})
		},
	}, &cobra.Command{
		Use:   "down",
		Short: "Roll back the last applied group of migrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), db, false, func(ctx context.Context, d *bun.DB) error {
				names, err := store.MigrateDown(ctx, d)
				if err != nil {
					return err
				}
				if len(names) == 0 {
					a.log.Info("no migration to roll back")
				}
				for _, n := range names {
					a.log.Info("rolled back migration", "migration", n)
					fmt.Fprintln(a.stdout, "rolled back", n)
				}
				return nil
			})
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List every migration as applied or pending",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withDB(cmd.Context(), db, false, func(ctx context.Context, d *bun.DB) error {
				ms, err := store.Status(ctx, d)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "MIGRATION\tSTATUS")
				for _, m := range ms {
					state := "pending"
					switch {
					case m.Unknown:
						state = "applied by a newer version of Tether"
					case m.Applied:
						state = "applied"
					}
					fmt.Fprintf(tw, "%s\t%s\n", m.Name, state)
				}
				return tw.Flush()
			})
		},
	})
	return cmd
}

// withDB opens the database for fn. Unless create is set, a missing SQLite
// file is an error rather than a new empty database.
func (a *app) withDB(ctx context.Context, c store.Config, create bool, fn func(context.Context, *bun.DB) error) error {
	if c.URL == "" && !create {
		path := filepath.Join(c.DataDir, "tether.db")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no database at %s (set --data-dir or --database-url)", path)
		}
	}
	a.log.Debug("opening database", "database", c.Describe())
	db, err := store.Open(ctx, c, a.log.Named("store"))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(ctx, db)
}

// migrateUp applies pending migrations, logging each one.
func (a *app) migrateUp(ctx context.Context, db *bun.DB) ([]string, error) {
	names, err := store.MigrateUp(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		a.log.Info("applied migration", "migration", n)
	}
	if len(names) == 0 {
		a.log.Info("database schema is up to date")
	}
	return names, nil
}
