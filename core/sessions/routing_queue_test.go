package sessions_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

// rulesFake gives the service compiled rules per list and describes
// sessions the way core/hub does, without settings or presence.
type rulesFake struct {
	t      *testing.T
	lists  map[sessions.RuleList][]routing.CompiledRule
	techs  []routing.TechnicianEnv
	router routing.Router
}

func (f *rulesFake) add(l sessions.RuleList, rules ...routing.Rule) {
	f.t.Helper()
	for i, r := range rules {
		r.ID, r.Priority, r.Enabled = int64(len(f.lists[l])+1), i, true
		if l.ChannelID != 0 {
			r.AppliesTo = routing.AppliesTo{ChannelIDs: []int64{l.ChannelID}}
		} else {
			r.AppliesTo = routing.AppliesTo{GroupIDs: []int64{l.GroupID}}
		}
		c, err := routing.CompileRule(r)
		if err != nil {
			f.t.Fatalf("compile %s: %v", r.Name, err)
		}
		f.lists[l] = append(f.lists[l], c)
	}
}

func (f *rulesFake) Rules(_ context.Context, l sessions.RuleList) ([]routing.CompiledRule, error) {
	return f.lists[l], nil
}

func (f *rulesFake) Env(_ context.Context, v sessions.Session, _ []routing.TechnicianEnv) (routing.Env, error) {
	se := routing.SessionEnv{Kind: string(v.Kind), TrackingID: v.Fields.TrackingID, Fields: map[string]string{}}
	if v.QueueKind == sessions.QueueChannel {
		se.ChannelID = v.QueueID
	} else if v.TechGroupID != nil {
		se.GroupID = *v.TechGroupID
	}
	return routing.Env{Session: se}, nil
}

func (f *rulesFake) Technicians(context.Context) ([]routing.TechnicianEnv, error) {
	return f.techs, nil
}
func (f *rulesFake) Router() *routing.Router { return &f.router }

// autoStart is a Dispatcher whose technicians are online when listed.
type autoStart struct {
	svc       *sessions.Service
	online    map[int64]bool
	enabled   bool
	maxActive int
}

func (d *autoStart) Candidate(ctx context.Context, id int64) (queue.Candidate, bool, error) {
	n, err := d.svc.ActiveCount(ctx, id)
	st := queue.StatusOffline
	if d.online[id] {
		st = queue.StatusOnline
	}
	return queue.Candidate{TechnicianID: id, Status: st, Active: n}, true, err
}
func (d *autoStart) AutoStart(context.Context, int64) (bool, int, error) {
	return d.enabled, d.maxActive, nil
}
func (d *autoStart) WorkingHours(context.Context, int64) (queue.WorkingHours, error) {
	return *queue.DefaultWorkingHours(), nil
}
func (d *autoStart) Mail(context.Context, []string, string, string) error { return nil }

func withRules(t *testing.T, w *world) (*rulesFake, *autoStart) {
	f := &rulesFake{t: t, lists: map[sessions.RuleList][]routing.CompiledRule{}}
	for _, tc := range []struct {
		id, group int64
		chans     []int64
	}{{w.techA1, w.groupA, []int64{w.channel1}}, {w.techA2, w.groupA, []int64{w.channel1}}, {w.tB, w.groupB, []int64{w.channel2}}} {
		f.techs = append(f.techs, routing.TechnicianEnv{ID: tc.id, GroupID: tc.group, ChannelIDs: tc.chans, Skills: []string{}, Languages: []string{}, Status: "online"})
	}
	d := &autoStart{svc: w.svc, online: map[int64]bool{}}
	w.svc.Routing, w.svc.Dispatcher = f, d
	return f, d
}

func priorityRule(name, tracking string, prio int, target routing.Target) routing.Rule {
	return routing.Rule{Name: name, When: `session.tracking_id == "` + tracking + `"`, Then: routing.Then{Target: target, SessionPriority: prio}}
}

// queueOf is a technician's queue as (ID, priority) pairs.
func queueOf(t *testing.T, w *world, tech int64) [][2]int64 {
	t.Helper()
	q, err := w.svc.Queue(context.Background(), w.actor(tech))
	if err != nil {
		t.Fatal(err)
	}
	out := [][2]int64{}
	for _, e := range q {
		out = append(out, [2]int64{e.ID, int64(e.Priority)})
	}
	return out
}

// TestSessionPriorityOrdersQueuesAndAutoStart: the session priority of the
// rule a waiting session matched puts it ahead of lower priorities in every
// technician's queue (ties: the longest waiting first), in the customer's
// position and estimate, and in the order auto-start hands sessions to a
// technician who becomes free.
func TestSessionPriorityOrdersQueuesAndAutoStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		f, d := withRules(t, w)
		groupA := routing.Target{Kind: routing.TargetGroup, IDs: []int64{w.groupA}}
		f.add(sessions.RuleList{ChannelID: w.channel1},
			priorityRule("VIP", "VIP", 50, groupA), priorityRule("Urgent", "urgent", 10, groupA))

		open := func(tracking string) (int64, string) {
			t.Helper()
			j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{Fields: sessions.Fields{TrackingID: tracking}}, false)
			if err != nil || j.Session.State != session.Waiting {
				t.Fatalf("open %q: %+v %v", tracking, j.Session, err)
			}
			if err := w.svc.Dispatch(ctx, j.Session.ID); err != nil {
				t.Fatal(err)
			}
			w.clock.Advance(time.Second)
			return j.Session.ID, j.Secret
		}
		plain1, plain1Secret := open("")
		urgent1, _ := open("urgent")
		vip, vipSecret := open("VIP")
		plain2, _ := open("")
		urgent2, urgent2Secret := open("urgent")

		want := [][2]int64{{vip, 50}, {urgent1, 10}, {urgent2, 10}, {plain1, 0}, {plain2, 0}}
		for _, tech := range []int64{w.techA1, w.techA2} {
			if got := queueOf(t, w, tech); !slices.Equal(got, want) {
				t.Fatalf("queue of %d: %v, want %v", tech, got, want)
			}
		}
		if rt, ok, err := w.svc.RouteOf(ctx, vip); err != nil || !ok || rt.Priority != 50 || rt.RuleName != "VIP" {
			t.Fatalf("route of the VIP session: %+v %v %v", rt, ok, err)
		}

		perPosition := func(_ []time.Duration, pos int) time.Duration { return time.Duration(pos) * time.Minute }
		for _, c := range []struct {
			secret   string
			position int
		}{{vipSecret, 1}, {urgent2Secret, 3}, {plain1Secret, 4}} {
			st, err := w.svc.CustomerStatus(ctx, c.secret, perPosition)
			if err != nil || st.Position != c.position || st.EstimatedWait != float64(c.position*60) {
				t.Fatalf("customer of session %d: position %d, estimate %v (%v); want %d", st.Session.ID, st.Position, st.EstimatedWait, err, c.position)
			}
		}

		// One technician becomes free: auto-start gives them the VIP session,
		// not the session waiting longest; at their maximum they get no more.
		d.enabled, d.maxActive, d.online[w.techA1] = true, 1, true
		if err := w.svc.DispatchWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ := w.svc.Get(ctx, vip); v.State != session.Active || v.TechnicianID == nil || *v.TechnicianID != w.techA1 {
			t.Fatalf("the VIP session after auto-start: %s %v", v.State, v.TechnicianID)
		}
		if got := queueOf(t, w, w.techA2); !slices.Equal(got, want[1:]) {
			t.Fatalf("queue after auto-start: %v, want %v", got, want[1:])
		}
		if _, err := w.svc.Close(ctx, w.actor(w.techA1), vip); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.DispatchWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		if v, _ := w.svc.Get(ctx, urgent1); v.State != session.Active {
			t.Fatalf("the urgent session waiting longest was not started next: %s", v.State)
		}
		if st, _ := w.svc.CustomerStatus(ctx, urgent2Secret, nil); st.Position != 1 {
			t.Fatalf("the remaining urgent session is at position %d, want 1", st.Position)
		}
	})
}

// TestGroupRulesRoutePrivateSessions: a rule of the creator's technician
// group sends a private session that starts waiting to another technician,
// escalates it to the group after the step's wait, and gives it its
// priority; a private session no rule matches stays in its creator's queue.
func TestGroupRulesRoutePrivateSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		f, _ := withRules(t, w)
		r := priorityRule("Escalations to B", "escalate", 30, routing.Target{Kind: routing.TargetTechnicians, IDs: []int64{w.tB}})
		r.When = `session.kind == "private" && session.group_id == ` + strconv.FormatInt(w.groupA, 10) + ` && session.tracking_id == "escalate"`
		r.Then.Steps = []routing.Step{{Wait: time.Minute}, {Target: routing.Target{Kind: routing.TargetGroup, IDs: []int64{w.groupA}}}}
		f.add(sessions.RuleList{GroupID: w.groupA}, r)

		private := func(tracking string) int64 {
			t.Helper()
			c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Ada"}, TrackingID: tracking}})
			if err != nil {
				t.Fatal(err)
			}
			if j, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{Kind: "web"}); err != nil || j.Session.State != session.Waiting {
				t.Fatalf("join: %+v %v", j.Session, err)
			}
			if err := w.svc.Dispatch(ctx, c.Session.ID); err != nil {
				t.Fatal(err)
			}
			return c.Session.ID
		}
		routed := private("escalate")
		if got := queueOf(t, w, w.tB); !slices.Equal(got, [][2]int64{{routed, 30}}) {
			t.Fatalf("B's queue in the first step: %v", got)
		}
		if got := queueOf(t, w, w.techA1); len(got) != 0 {
			t.Fatalf("the creator's queue in the first step: %v", got)
		}
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), routed); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("the creator picked up during the first step: %v", err)
		}
		if due, ok := w.timers.get(routed, sessions.TimerRouting); !ok || !due.Equal(w.clock.Now().Add(time.Minute)) {
			t.Fatalf("escalation timer: %v %v", due, ok)
		}

		plain := private("")
		if got := queueOf(t, w, w.techA1); !slices.Equal(got, [][2]int64{{plain, 0}}) {
			t.Fatalf("a private session no rule matches leaves its creator's queue: %v", got)
		}
		if _, ok, _ := w.svc.RouteOf(ctx, plain); ok {
			t.Fatal("a route holds a private session no rule matched")
		}

		w.clock.Advance(time.Minute + time.Second)
		if err := w.svc.FireTimer(ctx, routed, sessions.TimerRouting); err != nil {
			t.Fatal(err)
		}
		if got := queueOf(t, w, w.techA2); !slices.Equal(got, [][2]int64{{routed, 30}}) {
			t.Fatalf("A2's queue in the second step: %v", got)
		}
		if got := queueOf(t, w, w.tB); len(got) != 0 {
			t.Fatalf("B's queue in the second step: %v", got)
		}
		// The creator's queue: the routed session (priority 30) before their own.
		if got := queueOf(t, w, w.techA1); !slices.Equal(got, [][2]int64{{routed, 30}, {plain, 0}}) {
			t.Fatalf("the creator's queue in the second step: %v", got)
		}
		v, err := w.svc.PickUp(ctx, w.actor(w.techA2), routed)
		if err != nil || v.State != session.Active {
			t.Fatalf("pick-up in the second step: %v %v", v.State, err)
		}
	})
}
