package org_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

// TestChangedHearsEveryChange: caches built on the organisation (settings
// inheritance) are told of each change, so that a group moved or a
// technician put in another group is seen at once.
func TestChangedHearsEveryChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var n atomic.Int64
		f.s.Changed = func() { n.Add(1) }
		ms := org.MasterScope(0)
		steps := []struct {
			name string
			do   func() error
		}{
			{"create a group", func() error {
				_, err := f.s.CreateTechGroup(ctx, ms, org.GroupInput{Name: "C"})
				return err
			}},
			{"move a group", func() error {
				_, err := f.s.UpdateGroup(ctx, ms, f.A1, org.GroupPatch{ParentID: &f.B})
				return err
			}},
			{"move a technician", func() error {
				_, err := f.s.UpdateMember(ctx, ms, f.tA, org.MemberPatch{GroupID: &f.B})
				return err
			}},
			{"assign a channel", func() error {
				_, err := f.s.AssignChannel(ctx, ms, f.ch1, f.B)
				return err
			}},
			{"delete a technician", func() error { return f.s.DeleteMember(ctx, ms, f.tB) }},
		}
		for _, st := range steps {
			before := n.Load()
			if err := st.do(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if n.Load() == before {
				t.Errorf("%s: Changed was not called", st.name)
			}
		}
		before := n.Load()
		if _, err := f.s.CredentialsByID(ctx, f.tA); err != nil {
			t.Fatal(err)
		}
		if n.Load() != before {
			t.Error("a read called Changed")
		}
	})
}
