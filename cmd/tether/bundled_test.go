package main

import (
	"testing"

	"github.com/tetherhq/tether/sdk/manifest"
)

// TestBundledManifestsAreValid parses every bundled plugin's plugin.json
// with the hub's own parser: a bundled plugin the hub refuses would stop
// the hub from starting.
func TestBundledManifestsAreValid(t *testing.T) {
	for id, b := range bundled {
		t.Run(id, func(t *testing.T) {
			m, err := manifest.Parse(b.manifest)
			if err != nil {
				t.Fatalf("plugin.json: %v", err)
			}
			if m.ID != id || !m.Bundled {
				t.Errorf("manifest id %q bundled %t, want %q bundled", m.ID, m.Bundled, id)
			}
			if d := b.new().Describe(); d.ID != id {
				t.Errorf("Describe().ID = %q, want %q", d.ID, id)
			}
		})
	}
}
