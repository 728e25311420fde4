package org_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestTechnicianAttributes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		ms := org.MasterScope(f.master)

		m, err := f.s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &f.A, Name: "Grace",
			Email: "grace@example.com", Skills: []string{" printers", "networking", "printers"}, Languages: []string{"en", "fr"}}, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Skills, []string{"printers", "networking"}) || !reflect.DeepEqual(m.Languages, []string{"en", "fr"}) {
			t.Fatalf("created: skills %q languages %q", m.Skills, m.Languages)
		}
		// The administrator of group A edits them; a technician may not edit their own.
		skills := []string{"scanners"}
		m, err = f.s.UpdateMember(ctx, f.scope(t, "admin"), m.ID, org.MemberPatch{Skills: &skills})
		if err != nil || !reflect.DeepEqual(m.Skills, skills) || !reflect.DeepEqual(m.Languages, []string{"en", "fr"}) {
			t.Fatalf("admin update: %+v %v", m, err)
		}
		if _, err := f.s.UpdateMember(ctx, f.scope(t, "technician"), f.tA, org.MemberPatch{Skills: &skills}); !isKind(err, fault.Forbidden) {
			t.Fatalf("self update of skills: %v", err)
		}
		// Untouched members read back with empty lists, never null.
		other, err := f.s.Member(ctx, ms, f.tB)
		if err != nil || other.Skills == nil || len(other.Skills) != 0 || other.Languages == nil {
			t.Fatalf("plain technician: %+v %v", other, err)
		}

		tree, err := f.s.Tree(ctx, ms)
		if err != nil {
			t.Fatal(err)
		}
		if n := findTree(tree, m.ID); n == nil || !reflect.DeepEqual(n.Skills, skills) || !reflect.DeepEqual(n.Languages, []string{"en", "fr"}) {
			t.Fatalf("tree node: %+v", n)
		}
		hits, err := f.s.Search(ctx, ms, "SCANN", 10)
		if err != nil || len(hits) != 1 || hits[0].ID != m.ID || !reflect.DeepEqual(hits[0].Skills, skills) {
			t.Fatalf("search by skill: %+v %v", hits, err)
		}
		list, err := f.s.ListMembers(ctx, ms, org.MemberFilter{GroupID: f.A})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if l.ID == m.ID && !reflect.DeepEqual(l.Skills, skills) {
				t.Fatalf("list: %+v", l)
			}
		}
	})
}

func TestTechnicianAttributesRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		ms := org.MasterScope(f.master)
		before := f.dump(t)
		many := make([]string, org.MaxAttributes+1)
		for i := range many {
			many[i] = strings.Repeat("s", i+1)
		}
		long := strings.Repeat("x", 65)
		empty := []string{"ok", " "}
		for name, c := range map[string]struct {
			patch org.MemberPatch
			id    int64
			field string
		}{
			"too many skills":       {org.MemberPatch{Skills: &many}, f.tA, "skills"},
			"a language too long":   {org.MemberPatch{Languages: &[]string{"en", long}}, f.tA, "languages[1]"},
			"an empty skill":        {org.MemberPatch{Skills: &empty}, f.tA, "skills[1]"},
			"skills of an admin":    {org.MemberPatch{Skills: &[]string{"x"}}, f.adm, "skills"},
			"languages of an admin": {org.MemberPatch{Languages: &[]string{"fr"}}, f.adm, "languages"},
		} {
			_, err := f.s.UpdateMember(ctx, ms, c.id, c.patch)
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.Invalid || fe.Fields[c.field] == "" {
				t.Errorf("%s: want a field error on %s, got %v", name, c.field, err)
			}
		}
		_, err := f.s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindAdmin, Name: "a2", Email: "a2@example.com", Skills: []string{"x"}}, "", false)
		if fe, ok := fault.As(err); !ok || fe.Fields["skills"] == "" {
			t.Errorf("admin created with skills: %v", err)
		}
		if after := f.dump(t); after != before {
			t.Fatalf("a refused change was stored")
		}
	})
}

func findTree(n *org.TreeNode, id int64) *org.TreeNode {
	if n.ID == id {
		return n
	}
	for _, c := range n.Children {
		if f := findTree(c, id); f != nil {
			return f
		}
	}
	return nil
}

func isKind(err error, k fault.Kind) bool {
	fe, ok := fault.As(err)
	return ok && fe.Kind == k
}
