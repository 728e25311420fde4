package pluginsettings_test

import (
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/settings/settingstest"
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

// newTree is the organisation above.
func newTree() *settingstest.Tree {
	return new(settingstest.Tree).
		Add(orgID, 0, settings.Org, "Acme").
		Add(groupA, orgID, settings.TechGroup, "A").
		Add(groupA1, groupA, settings.TechGroup, "A1").
		Add(tech1, groupA1, settings.Technician, "t1").
		Add(groupB, orgID, settings.TechGroup, "B").
		Add(chan1, orgID, settings.Channel, "Channel 1").
		Add(chan2, orgID, settings.Channel, "Channel 2")
}

// seedNodes writes the tree into the nodes table so that settings rows
// satisfy their foreign keys.
func seedNodes(t *testing.T, db *bun.DB) { newTree().Seed(t, db) }
