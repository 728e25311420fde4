package sessions_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
)

// policy is a settable Policy.
type policy struct {
	timeouts     session.Timeouts
	fields       *sessions.PrivateFields
	terms        map[int64]*sessions.Terms
	perms        org.Permissions
	autoAfter    time.Duration
	autoTarget   int64
	autoTransfer bool
}

func (p *policy) Timeouts(context.Context, int64) (session.Timeouts, error) { return p.timeouts, nil }
func (p *policy) PrivateFields(context.Context, int64) (*sessions.PrivateFields, error) {
	return p.fields, nil
}
func (p *policy) Terms(_ context.Context, unit int64) (*sessions.Terms, error) {
	if t, ok := p.terms[unit]; ok {
		return t, nil
	}
	return sessions.DefaultTerms(), nil
}
func (p *policy) Invitation(context.Context, int64) (*sessions.Invitation, error) {
	return sessions.DefaultInvitation(), nil
}
func (p *policy) Permissions(context.Context, int64) (*org.Permissions, error) { return &p.perms, nil }
func (p *policy) AutoTransfer(context.Context, int64) (time.Duration, int64, bool, error) {
	return p.autoAfter, p.autoTarget, p.autoTransfer, nil
}

// timers are the durable timers of core/queue, read back from the table.
type timers struct {
	*queue.Timers
}

func (t *timers) get(id int64, kind string) (time.Time, bool) {
	var due []time.Time
	err := t.DB.NewSelect().Table("session_timers").Column("due_at").
		Where("session_id = ? AND kind = ? AND fired_at IS NULL", id, kind).Scan(context.Background(), &due)
	if err != nil {
		panic(err)
	}
	if len(due) == 0 {
		return time.Time{}, false
	}
	return due[0].UTC(), true
}

type presence struct {
	status map[int64]string
	max    int
}

func (p *presence) Status(_ context.Context, id int64) (string, error) {
	if s, ok := p.status[id]; ok {
		return s, nil
	}
	return "online", nil
}
func (p *presence) MaxActive(context.Context, int64) (int, error) { return p.max, nil }

type world struct {
	svc                *sessions.Service
	clock              *clocktest.Clock
	policy             *policy
	timers             *timers
	presence           *presence
	org                *org.Service
	master             int64
	groupA, groupB     int64
	techA1, techA2, tB int64
	channel1, channel2 int64
	ip                 netip.Addr
}

func (w *world) actor(id int64) org.Actor { return org.Actor{ID: id, Role: org.KindTechnician} }

func newWorld(t testing.TB, db *bun.DB) *world {
	t.Helper()
	ctx := context.Background()
	c := clocktest.New(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	o := &org.Service{DB: db, Now: c.Now}
	if _, err := o.Bootstrap(ctx, org.BootstrapInput{AdminEmail: "root@example.com"}); err != nil {
		t.Fatal(err)
	}
	ms := org.MasterScope(0)
	grp := func(name string) int64 {
		u, err := o.CreateTechGroup(ctx, ms, org.GroupInput{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID
	}
	tech := func(g int64, email string) int64 {
		m, err := o.CreateMember(ctx, ms, org.MemberInput{Role: org.KindTechnician, GroupID: &g, Name: email, Email: email}, "", false)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	w := &world{clock: c, org: o, ip: netip.MustParseAddr("192.0.2.7")}
	w.groupA, w.groupB = grp("A"), grp("B")
	w.techA1, w.techA2, w.tB = tech(w.groupA, "a1@example.com"), tech(w.groupA, "a2@example.com"), tech(w.groupB, "b@example.com")
	chs, err := o.Channels(ctx, ms)
	if err != nil {
		t.Fatal(err)
	}
	w.channel1, w.channel2 = chs[0].ID, chs[1].ID
	if _, err := o.AssignChannel(ctx, ms, w.channel1, w.groupA); err != nil {
		t.Fatal(err)
	}
	if _, err := o.AssignChannel(ctx, ms, w.channel2, w.groupB); err != nil {
		t.Fatal(err)
	}
	w.policy = &policy{
		timeouts: session.Timeouts{CodeValidity: 20 * time.Minute, Connecting: 10 * time.Minute},
		fields:   sessions.DefaultPrivateFields(),
		terms:    map[int64]*sessions.Terms{},
		perms:    *org.DefaultPermissions(),
	}
	w.timers = &timers{&queue.Timers{DB: db, Now: c.Now}}
	w.presence = &presence{status: map[int64]string{}, max: 10}
	w.svc = &sessions.Service{DB: db, Org: o, Policy: w.policy, Timers: w.timers, Presence: w.presence, Now: c.Now}
	return w
}

func orgMaster() *org.Scope { return org.MasterScope(0) }

func orgTechnician(group int64, i int) org.MemberInput {
	return org.MemberInput{Role: org.KindTechnician, GroupID: &group, Name: "p", Email: "p" + string(rune('a'+i)) + "@example.com"}
}
