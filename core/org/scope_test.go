package org_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// TestRoleMatrix runs every organisation operation as each role, on a unit
// inside and outside the administrator's scope. Refused operations must be
// 403 and leave the stored organisation byte-for-byte unchanged.
func TestRoleMatrix(t *testing.T) {
	type op func(ctx context.Context, f *fixture, sc *org.Scope) error
	const ok, forbidden = "ok", "forbidden"
	cases := []struct {
		name                    string
		run                     op
		master, admin, techcian string
	}{
		{"create subgroup inside own group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateTechGroup(ctx, sc, org.GroupInput{ParentID: &f.A1, Name: "new"})
			return err
		}, ok, ok, forbidden},
		{"create subgroup in foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateTechGroup(ctx, sc, org.GroupInput{ParentID: &f.B, Name: "new"})
			return err
		}, ok, forbidden, forbidden},
		{"create top-level group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateTechGroup(ctx, sc, org.GroupInput{Name: "top"})
			return err
		}, ok, forbidden, forbidden},
		{"rename own group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateGroup(ctx, sc, f.A1, org.GroupPatch{Name: ptr("renamed")})
			return err
		}, ok, ok, forbidden},
		{"disable foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateGroup(ctx, sc, f.B, org.GroupPatch{Enabled: ptr(false)})
			return err
		}, ok, forbidden, forbidden},
		{"move own subgroup under foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateGroup(ctx, sc, f.AE, org.GroupPatch{ParentID: &f.B})
			return err
		}, ok, forbidden, forbidden},
		{"delete own empty group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			return f.s.DeleteGroup(ctx, sc, f.AE)
		}, ok, ok, forbidden},
		{"delete foreign empty group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			return f.s.DeleteGroup(ctx, sc, f.BE)
		}, ok, forbidden, forbidden},
		{"create technician in own group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateMember(ctx, sc, org.MemberInput{Role: org.KindTechnician, GroupID: &f.A1, Name: "n", Email: "n@example.com"}, "", false)
			return err
		}, ok, ok, forbidden},
		{"create technician in foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateMember(ctx, sc, org.MemberInput{Role: org.KindTechnician, GroupID: &f.B, Name: "n", Email: "n@example.com"}, "", false)
			return err
		}, ok, forbidden, forbidden},
		{"update own technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateMember(ctx, sc, f.tA1, org.MemberPatch{Nickname: ptr("Tina"), Enabled: ptr(false)})
			return err
		}, ok, ok, forbidden},
		{"update foreign technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateMember(ctx, sc, f.tB, org.MemberPatch{Nickname: ptr("Tina")})
			return err
		}, ok, forbidden, forbidden},
		{"read foreign technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.Member(ctx, sc, f.tB)
			return err
		}, ok, forbidden, forbidden},
		{"move technician within own groups", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateMember(ctx, sc, f.tA1, org.MemberPatch{GroupID: &f.A})
			return err
		}, ok, ok, forbidden},
		{"move own technician to foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateMember(ctx, sc, f.tA1, org.MemberPatch{GroupID: &f.B})
			return err
		}, ok, forbidden, forbidden},
		{"delete own technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			return f.s.DeleteMember(ctx, sc, f.tA1)
		}, ok, ok, forbidden},
		{"delete foreign technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			return f.s.DeleteMember(ctx, sc, f.tB)
		}, ok, forbidden, forbidden},
		{"create administrator", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateMember(ctx, sc, org.MemberInput{Role: org.KindAdmin, Name: "a2", Email: "a2@example.com"}, "", false)
			return err
		}, ok, forbidden, forbidden},
		{"create administrator group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.CreateAdminGroup(ctx, sc, org.GroupInput{ParentID: &f.admGroup, Name: "sub"})
			return err
		}, ok, forbidden, forbidden},
		{"assign groups to administrator", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.AssignGroups(ctx, sc, f.adm, []int64{f.A, f.B})
			return err
		}, ok, forbidden, forbidden},
		{"rename own channel", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateChannel(ctx, sc, f.ch1, org.ChannelPatch{Name: ptr("Sales"), Description: ptr("d")})
			return err
		}, ok, ok, forbidden},
		{"rename foreign channel", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.UpdateChannel(ctx, sc, f.ch2, org.ChannelPatch{Name: ptr("Sales")})
			return err
		}, ok, forbidden, forbidden},
		{"assign channel to own group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.AssignChannel(ctx, sc, f.ch2, f.A1)
			return err
		}, ok, ok, forbidden},
		{"assign channel to foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.AssignChannel(ctx, sc, f.ch1, f.B)
			return err
		}, ok, forbidden, forbidden},
		{"unassign channel from foreign group", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			return f.s.UnassignChannel(ctx, sc, f.ch2, f.B)
		}, ok, forbidden, forbidden},
		{"exclude own technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.SetExclusion(ctx, sc, f.ch1, f.tA, true)
			return err
		}, ok, ok, forbidden},
		{"exclude foreign technician", func(ctx context.Context, f *fixture, sc *org.Scope) error {
			_, err := f.s.SetExclusion(ctx, sc, f.ch2, f.tB, true)
			return err
		}, ok, forbidden, forbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				for _, role := range []string{"master", "admin", "technician"} {
					want := map[string]string{"master": tc.master, "admin": tc.admin, "technician": tc.techcian}[role]
					f := newFixture(t, db)
					before := f.dump(t)
					err := tc.run(context.Background(), f, f.scope(t, role))
					after := f.dump(t)
					switch want {
					case ok:
						if err != nil {
							t.Fatalf("%s: unexpected error %v", role, err)
						}
						if before == after && !strings.HasPrefix(tc.name, "read ") {
							t.Fatalf("%s: allowed operation changed nothing", role)
						}
					case forbidden:
						if !fault.IsKind(err, fault.Forbidden) {
							t.Fatalf("%s: got %v, want a Forbidden fault", role, err)
						}
						if before != after {
							t.Fatalf("%s: refused operation changed the organisation", role)
						}
					}
					// Wipe for the next role: a fresh schema per role would be
					// cleaner but slower; deleting everything is equivalent here.
					wipe(t, db)
				}
			})
		})
	}
}

func wipe(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	for _, table := range []string{"channel_exclusions", "channel_groups", "admin_tech_groups", "channels", "settings", "auth_tokens", "sign_in_attempts", "members"} {
		if _, err := db.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			t.Fatal(err)
		}
	}
	// nodes reference each other: delete leaves first.
	for i := 0; i < 20; i++ {
		if _, err := db.ExecContext(ctx, "DELETE FROM nodes WHERE id NOT IN (SELECT parent_id FROM nodes WHERE parent_id IS NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM nodes").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("could not empty nodes")
}

func TestAdminSeesOnlyScopeInTreeAndSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tree, err := f.s.Tree(ctx, f.scope(t, "admin"))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int64]bool{}
		var walk func(n *org.TreeNode)
		walk = func(n *org.TreeNode) {
			seen[n.ID] = true
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(tree)
		for _, id := range []int64{f.A, f.A1, f.AE, f.tA, f.tA1, f.ch1, f.adm} {
			if !seen[id] {
				t.Errorf("admin tree lacks in-scope unit %d", id)
			}
		}
		for _, id := range []int64{f.B, f.BE, f.tB, f.ch2, f.master, f.admGroup} {
			if seen[id] {
				t.Errorf("admin tree shows out-of-scope unit %d", id)
			}
		}
		hits, err := f.s.Search(ctx, f.scope(t, "admin"), "group", 0)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string][]string{}
		for _, h := range hits {
			names[h.Name] = h.Path
		}
		if _, ok := names["Group B"]; ok {
			t.Error("admin search found out-of-scope Group B")
		}
		if p, ok := names["Group A1"]; !ok || len(p) != 2 || p[1] != "Group A" {
			t.Errorf("admin search: Group A1 path = %v, present %v", p, ok)
		}
		all, err := f.s.Search(ctx, f.scope(t, "master"), "TB@EXAMPLE", 0)
		if err != nil || len(all) != 1 || all[0].ID != f.tB {
			t.Fatalf("master search by e-mail: %v %v", all, err)
		}
	})
}
