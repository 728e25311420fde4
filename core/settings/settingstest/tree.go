// Package settingstest gives settings tests an organisation tree held in
// memory (a settings.Tree) and a way to write its nodes into a database, so
// that stored settings satisfy their foreign keys.
package settingstest

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/settings"
)

type node struct {
	unit   settings.Unit
	parent int64
}

// Tree is an in-memory organisation. Add parents before their children.
type Tree struct{ nodes []node }

var _ settings.Tree = (*Tree)(nil)

// Add puts a unit under parent (0 for the root) and returns the tree.
func (f *Tree) Add(id, parent int64, kind settings.UnitKind, name string) *Tree {
	f.nodes = append(f.nodes, node{settings.Unit{ID: id, Kind: kind, Name: name}, parent})
	return f
}

func (f *Tree) find(id int64) (node, bool) {
	for _, n := range f.nodes {
		if n.unit.ID == id {
			return n, true
		}
	}
	return node{}, false
}

// Unit returns one unit.
func (f *Tree) Unit(_ context.Context, id int64) (settings.Unit, error) {
	n, ok := f.find(id)
	if !ok {
		return settings.Unit{}, fault.NotFoundf("unit", "no unit %d", id)
	}
	return n.unit, nil
}

// Ancestors returns the unit's parents, nearest first.
func (f *Tree) Ancestors(_ context.Context, id int64) ([]settings.Unit, error) {
	n, ok := f.find(id)
	if !ok {
		return nil, fault.NotFoundf("unit", "no unit %d", id)
	}
	var out []settings.Unit
	for n.parent != 0 {
		n, _ = f.find(n.parent)
		out = append(out, n.unit)
	}
	return out, nil
}

// Descendants returns every unit below id, breadth first.
func (f *Tree) Descendants(_ context.Context, id int64) ([]settings.Unit, error) {
	var out []settings.Unit
	queue := []int64{id}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, n := range f.nodes {
			if n.parent == p {
				out = append(out, n.unit)
				queue = append(queue, n.unit.ID)
			}
		}
	}
	return out, nil
}

// All returns the units of one kind.
func (f *Tree) All(_ context.Context, kind settings.UnitKind) ([]settings.Unit, error) {
	var out []settings.Unit
	for _, n := range f.nodes {
		if n.unit.Kind == kind {
			out = append(out, n.unit)
		}
	}
	return out, nil
}

// Seed writes the tree's units into the nodes table, except those listed in
// skip (units that must exist in the tree only).
func (f *Tree) Seed(t testing.TB, db *bun.DB, skip ...int64) {
	t.Helper()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
next:
	for _, n := range f.nodes {
		for _, s := range skip {
			if n.unit.ID == s {
				continue next
			}
		}
		var parent any
		if n.parent != 0 {
			parent = n.parent
		}
		_, err := db.NewRaw("INSERT INTO nodes (id, parent_id, kind, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			n.unit.ID, parent, string(n.unit.Kind), n.unit.Name, now, now).Exec(context.Background())
		if err != nil {
			t.Fatalf("seed node %d: %v", n.unit.ID, err)
		}
	}
}
