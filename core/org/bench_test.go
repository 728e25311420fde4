package org_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkTreeRead reads the whole tree of an organisation with 1,000
// technicians in 100 groups (10 top-level groups of 9 subgroups each), as a
// master administrator and as an administrator of one top-level group.
func BenchmarkTreeRead(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		s := org.New(db)
		if _, err := s.Bootstrap(ctx, org.BootstrapInput{AdminEmail: "root@example.com"}); err != nil {
			b.Fatal(err)
		}
		ms := org.MasterScope(0)
		var groups, tops []int64
		for i := range 10 {
			top, err := s.CreateTechGroup(ctx, ms, org.GroupInput{Name: fmt.Sprintf("Region %d", i)})
			if err != nil {
				b.Fatal(err)
			}
			groups, tops = append(groups, top.ID), append(tops, top.ID)
			for j := range 9 {
				g, err := s.CreateTechGroup(ctx, ms, org.GroupInput{ParentID: &top.ID, Name: fmt.Sprintf("Team %d.%d", i, j)})
				if err != nil {
					b.Fatal(err)
				}
				groups = append(groups, g.ID)
			}
		}
		for i := range 1000 {
			g := groups[i%len(groups)]
			if _, err := s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &g,
				Name: fmt.Sprintf("Tech %d", i), Email: fmt.Sprintf("tech%d@example.com", i)}, "", false); err != nil {
				b.Fatal(err)
			}
		}
		adm, err := s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindAdmin, Name: "adm", Email: "adm@example.com", AssignedGroups: tops[:1]}, "", false)
		if err != nil {
			b.Fatal(err)
		}
		count := func(n *org.TreeNode) int {
			var walk func(*org.TreeNode) int
			walk = func(n *org.TreeNode) int {
				c := 1
				for _, ch := range n.Children {
					c += walk(ch)
				}
				return c
			}
			return walk(n)
		}
		b.Run("master", func(b *testing.B) {
			for b.Loop() {
				t, err := s.Tree(ctx, ms)
				if err != nil {
					b.Fatal(err)
				}
				if n := count(t); n != 1+10+100+1000+2 {
					b.Fatalf("tree has %d nodes", n)
				}
			}
		})
		b.Run("admin", func(b *testing.B) {
			for b.Loop() {
				sc, err := s.ScopeOf(ctx, org.Actor{ID: adm.ID, Role: org.KindAdmin})
				if err != nil {
					b.Fatal(err)
				}
				t, err := s.Tree(ctx, sc)
				if err != nil {
					b.Fatal(err)
				}
				if n := count(t); n != 1+10+100+1 {
					b.Fatalf("admin tree has %d nodes", n)
				}
			}
		})
	})
}
