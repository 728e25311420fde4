package settings_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/settings"
)

// The organisation used by every test:
//
//	org 1
//	├── group A 2
//	│   ├── group A1 3
//	│   │   └── group A1a 4
//	│   │       └── technician t1 5
//	│   └── group A2 6
//	├── group B 7
//	│   ├── technician t2 8
//	│   └── group ghost 99 (in the tree only: writing it breaks the foreign key)
//	├── channel c1 9, channel c2 10
//	└── admin group 11 └── master 12 (the actor)
const (
	orgID    = 1
	groupA   = 2
	groupA1  = 3
	groupA1a = 4
	tech1    = 5
	groupA2  = 6
	groupB   = 7
	tech2    = 8
	chan1    = 9
	chan2    = 10
	admins   = 11
	master   = 12
	ghost    = 99
)

type node struct {
	unit   settings.Unit
	parent int64
}

// fakeTree is the organisation above, held in memory.
type fakeTree struct{ nodes []node }

func newTree() *fakeTree {
	n := func(id, parent int64, kind settings.UnitKind, name string) node {
		return node{settings.Unit{ID: id, Kind: kind, Name: name}, parent}
	}
	return &fakeTree{nodes: []node{
		n(orgID, 0, settings.Org, "Acme"),
		n(groupA, orgID, settings.TechGroup, "A"),
		n(groupA1, groupA, settings.TechGroup, "A1"),
		n(groupA1a, groupA1, settings.TechGroup, "A1a"),
		n(tech1, groupA1a, settings.Technician, "t1"),
		n(groupA2, groupA, settings.TechGroup, "A2"),
		n(groupB, orgID, settings.TechGroup, "B"),
		n(tech2, groupB, settings.Technician, "t2"),
		n(chan1, orgID, settings.Channel, "Channel 1"),
		n(chan2, orgID, settings.Channel, "Channel 2"),
		n(admins, orgID, "admin_group", "Admins"),
		n(master, admins, "master", "Boss"),
	}}
}

// withGhost adds a group that exists in the tree but not in the database.
func (f *fakeTree) withGhost() *fakeTree {
	f.nodes = append(f.nodes, node{settings.Unit{ID: ghost, Kind: settings.TechGroup, Name: "ghost"}, groupB})
	return f
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

// seedNodes writes the tree's rows (except the ghost) into the nodes table
// so that settings rows satisfy their foreign keys.
func seedNodes(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, n := range newTree().nodes { // parents come before children
		var parent any
		if n.parent != 0 {
			parent = n.parent
		}
		_, err := db.NewRaw("INSERT INTO nodes (id, parent_id, kind, name, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
			n.unit.ID, parent, string(n.unit.Kind), n.unit.Name, now, now).Exec(ctx)
		if err != nil {
			t.Fatalf("seed node %d: %v", n.unit.ID, err)
		}
	}
}

func ids(units []settings.Unit) []int64 {
	out := make([]int64, len(units))
	for i, u := range units {
		out[i] = u.ID
	}
	slices.Sort(out)
	return out
}
