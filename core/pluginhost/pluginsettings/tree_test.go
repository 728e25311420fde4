package pluginsettings_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/settings"
)

// The organisation used by every test:
//
//	org 1 "Acme"
//	├── group A 2
//	│   └── group A1 3
//	│       └── technician t1 4
//	├── group B 5
//	└── channel c1 6, channel c2 7
const (
	orgID   = 1
	groupA  = 2
	groupA1 = 3
	tech1   = 4
	groupB  = 5
	chan1   = 6
	chan2   = 7
)

type node struct {
	unit   settings.Unit
	parent int64
}

type fakeTree struct{ nodes []node }

func newTree() *fakeTree {
	n := func(id, parent int64, kind settings.UnitKind, name string) node {
		return node{settings.Unit{ID: id, Kind: kind, Name: name}, parent}
	}
	return &fakeTree{nodes: []node{
		n(orgID, 0, settings.Org, "Acme"),
		n(groupA, orgID, settings.TechGroup, "A"),
		n(groupA1, groupA, settings.TechGroup, "A1"),
		n(tech1, groupA1, settings.Technician, "t1"),
		n(groupB, orgID, settings.TechGroup, "B"),
		n(chan1, orgID, settings.Channel, "Channel 1"),
		n(chan2, orgID, settings.Channel, "Channel 2"),
	}}
}

func (f *fakeTree) find(id int64) (node, bool) {
	for _, n := range f.nodes {
		if n.unit.ID == id {
			return n, true
		}
	}
	return node{}, false
}

func (f *fakeTree) Unit(_ context.Context, id int64) (settings.Unit, error) {
	n, ok := f.find(id)
	if !ok {
		return settings.Unit{}, fault.NotFoundf("unit", "no unit %d", id)
	}
	return n.unit, nil
}

func (f *fakeTree) Ancestors(_ context.Context, id int64) ([]settings.Unit, error) {
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

func (f *fakeTree) Descendants(_ context.Context, id int64) ([]settings.Unit, error) {
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

func (f *fakeTree) All(_ context.Context, kind settings.UnitKind) ([]settings.Unit, error) {
	var out []settings.Unit
	for _, n := range f.nodes {
		if n.unit.Kind == kind {
			out = append(out, n.unit)
		}
	}
	return out, nil
}

// seedNodes writes the tree into the nodes table so that settings rows
// satisfy their foreign keys.
func seedNodes(t *testing.T, db *bun.DB) {
	t.Helper()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, n := range newTree().nodes {
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
