package settings_test

import (
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/settings/settingstest"
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

// newTree is the organisation above.
func newTree() *settingstest.Tree {
	return new(settingstest.Tree).
		Add(orgID, 0, settings.Org, "Acme").
		Add(groupA, orgID, settings.TechGroup, "A").
		Add(groupA1, groupA, settings.TechGroup, "A1").
		Add(groupA1a, groupA1, settings.TechGroup, "A1a").
		Add(tech1, groupA1a, settings.Technician, "t1").
		Add(groupA2, groupA, settings.TechGroup, "A2").
		Add(groupB, orgID, settings.TechGroup, "B").
		Add(tech2, groupB, settings.Technician, "t2").
		Add(chan1, orgID, settings.Channel, "Channel 1").
		Add(chan2, orgID, settings.Channel, "Channel 2").
		Add(admins, orgID, "admin_group", "Admins").
		Add(master, admins, "master", "Boss")
}

// newTreeWithGhost adds a group that exists in the tree but not in the database.
func newTreeWithGhost() *settingstest.Tree {
	return newTree().Add(ghost, groupB, settings.TechGroup, "ghost")
}

// seedNodes writes the tree's rows (except the ghost) into the nodes table
// so that settings rows satisfy their foreign keys.
func seedNodes(t *testing.T, db *bun.DB) { newTree().Seed(t, db) }

func ids(units []settings.Unit) []int64 {
	out := make([]int64, len(units))
	for i, u := range units {
		out[i] = u.ID
	}
	slices.Sort(out)
	return out
}
