package org_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/org"
)

// fixture is a small organisation:
//
//	root
//	├── admin "adm" (assigned group A)
//	├── group A ── technician tA, subgroup A1 ── technician tA1, empty subgroup AE
//	├── group B ── technician tB, empty subgroup BE
//	channel 1 assigned to A, channel 2 assigned to B
type fixture struct {
	s                          *org.Service
	master, adm, tA, tA1, tB   int64
	admGroup                   int64
	A, A1, AE, B, BE, ch1, ch2 int64
}

func (f *fixture) scope(t *testing.T, role string) *org.Scope {
	t.Helper()
	var a org.Actor
	switch role {
	case "master":
		a = org.Actor{ID: f.master, Role: org.KindMaster}
	case "admin":
		a = org.Actor{ID: f.adm, Role: org.KindAdmin}
	case "technician":
		a = org.Actor{ID: f.tA, Role: org.KindTechnician}
	default:
		t.Fatalf("unknown role %q", role)
	}
	sc, err := f.s.ScopeOf(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func newFixture(t *testing.T, db *bun.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	s := &org.Service{DB: db, Now: func() time.Time { return clock }}
	if _, err := s.Bootstrap(ctx, org.BootstrapInput{AdminEmail: "root@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{s: s}
	hits, err := s.Search(ctx, org.MasterScope(0), "root@example.com", 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("find master: %v %v", hits, err)
	}
	f.master = hits[0].ID
	ms := org.MasterScope(f.master)
	grp := func(parent *int64, name string) int64 {
		u, err := s.CreateTechGroup(ctx, ms, org.GroupInput{ParentID: parent, Name: name})
		if err != nil {
			t.Fatalf("create group %s: %v", name, err)
		}
		return u.ID
	}
	tech := func(group int64, name string) int64 {
		m, err := s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &group, Name: name, Email: name + "@example.com"}, "", false)
		if err != nil {
			t.Fatalf("create technician %s: %v", name, err)
		}
		return m.ID
	}
	f.A = grp(nil, "Group A")
	f.A1 = grp(&f.A, "Group A1")
	f.AE = grp(&f.A, "Group AE")
	f.B = grp(nil, "Group B")
	f.BE = grp(&f.B, "Group BE")
	f.tA = tech(f.A, "ta")
	f.tA1 = tech(f.A1, "ta1")
	f.tB = tech(f.B, "tb")
	ag, err := s.CreateAdminGroup(ctx, ms, org.GroupInput{Name: "Admins"})
	if err != nil {
		t.Fatal(err)
	}
	f.admGroup = ag.ID
	adm, err := s.CreateMember(ctx, ms, org.MemberInput{Role: org.KindAdmin, GroupID: &f.admGroup, Name: "adm", Email: "adm@example.com", AssignedGroups: []int64{f.A}}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	f.adm = adm.ID
	chs, err := s.Channels(ctx, ms)
	if err != nil || len(chs) != org.ChannelCount {
		t.Fatalf("channels: %d %v", len(chs), err)
	}
	f.ch1, f.ch2 = chs[0].ID, chs[1].ID
	if _, err := s.AssignChannel(ctx, ms, f.ch1, f.A); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignChannel(ctx, ms, f.ch2, f.B); err != nil {
		t.Fatal(err)
	}
	return f
}

// dump is the whole stored organisation, to prove a refused request changed nothing.
func (f *fixture) dump(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ms := org.MasterScope(f.master)
	tree, err := f.s.Tree(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	chs, err := f.s.Channels(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	members, err := f.s.ListMembers(ctx, ms, org.MemberFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var admins []org.Member
	for _, m := range members {
		full, err := f.s.Member(ctx, ms, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		admins = append(admins, full)
	}
	b, err := json.Marshal([]any{tree, chs, admins})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
