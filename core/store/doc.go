// Package store opens Tether's database (embedded SQLite or PostgreSQL through
// bun), owns the schema migrations and tells which dialect is in use.
// It holds no domain logic: each table's rows are read and written by the one
// core package that owns that table.
package store
