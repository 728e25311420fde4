package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/rules"
)

// fixture: group A with channel 1 and administrator adm, group B with
// channel 2, a technician in A.
type fixture struct {
	s                  *rules.Service
	master, adm, tech  *org.Scope
	A, B, ch1, ch2, tA int64
}

func newFixture(t *testing.T, db *bun.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	o := &org.Service{DB: db, Now: func() time.Time { return clock }}
	if _, err := o.Bootstrap(ctx, org.BootstrapInput{AdminEmail: "root@example.com", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	hits, err := o.Search(ctx, org.MasterScope(0), "root@example.com", 1)
	if err != nil || len(hits) != 1 {
		t.Fatalf("find master: %v %v", hits, err)
	}
	ms := org.MasterScope(hits[0].ID)
	f := &fixture{master: ms}
	must := func(id int64, err error) int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	group := func(name string) int64 {
		u, err := o.CreateTechGroup(ctx, ms, org.GroupInput{Name: name})
		return must(u.ID, err)
	}
	f.A, f.B = group("A"), group("B")
	tech, err := o.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &f.A, Name: "ta", Email: "ta@example.com"}, "", false)
	f.tA = must(tech.ID, err)
	adm, err := o.CreateMember(ctx, ms, org.MemberInput{Role: org.KindAdmin, Name: "adm", Email: "adm@example.com", AssignedGroups: []int64{f.A}}, "", false)
	must(adm.ID, err)
	chs, err := o.Channels(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	f.ch1, f.ch2 = chs[0].ID, chs[1].ID
	if _, err := o.AssignChannel(ctx, ms, f.ch1, f.A); err != nil {
		t.Fatal(err)
	}
	if _, err := o.AssignChannel(ctx, ms, f.ch2, f.B); err != nil {
		t.Fatal(err)
	}
	scope := func(a org.Actor) *org.Scope {
		sc, err := o.ScopeOf(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	f.adm = scope(org.Actor{ID: adm.ID, Role: org.KindAdmin})
	f.tech = scope(org.Actor{ID: f.tA, Role: org.KindTechnician})
	f.s = rules.New(db, o)
	f.s.Now = func() time.Time { return clock }
	return f
}

func wantFault(t *testing.T, err error, kind fault.Kind) *fault.Error {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != kind {
		t.Fatalf("want a fault of kind %d, got %v", kind, err)
	}
	return fe
}
