package sessions_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

func eventTypes(t *testing.T, w *world, id int64) string {
	t.Helper()
	evs, err := w.svc.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	return strings.Join(types, ",")
}

func TestPrivateSessionLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Alice"}, TrackingID: "CASE-1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.PIN) != 6 || c.Session.State != session.Pending {
			t.Fatalf("created %+v", c)
		}
		if due, ok := w.timers.get(c.Session.ID, sessions.TimerTimeout); !ok || !due.Equal(w.clock.Now().Add(20*time.Minute)) {
			t.Fatalf("code validity timer = %v %v", due, ok)
		}
		w.clock.Advance(30 * time.Second)
		j, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{Kind: "applet", Platform: "linux"})
		if err != nil {
			t.Fatal(err)
		}
		if j.Session.State != session.Waiting || j.Secret == "" || j.Terms != nil {
			t.Fatalf("joined %+v", j)
		}
		// The PIN is used up.
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{}); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("second join with a used PIN: %v", err)
		}
		// Someone else's private session is not in tech A2's queue.
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA2), c.Session.ID); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("A2 picked up A1's private session: %v", err)
		}
		w.clock.Advance(2 * time.Minute)
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), c.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(5 * time.Minute)
		if _, err := w.svc.Hold(ctx, w.actor(w.techA1), c.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(time.Minute)
		if _, err := w.svc.Resume(ctx, w.actor(w.techA1), c.Session.ID); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(3 * time.Minute)
		got, err := w.svc.Close(ctx, w.actor(w.techA1), c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := sessions.Seconds{Waiting: 120, Active: 480, Hold: 60, Total: 540}
		if got.Buckets != want || got.State != session.Closed || got.Failed || got.Missed {
			t.Fatalf("closed session: %+v buckets %+v, want %+v", got, got.Buckets, want)
		}
		if rt, ok := got.Aggregate.ResponseTime(); !ok || rt != 2*time.Minute {
			t.Fatalf("response time %v", rt)
		}
		if ev := eventTypes(t, w, c.Session.ID); ev != "session.created,session.joined,session.picked_up,session.on_hold,session.resumed,session.closed" {
			t.Fatalf("outbox: %s", ev)
		}
		if _, ok := w.timers.get(c.Session.ID, sessions.TimerTimeout); ok {
			t.Fatal("a closed session still has a timer")
		}
		// Actions on a closed session are refused, not applied.
		if _, err := w.svc.Hold(ctx, w.actor(w.techA1), c.Session.ID); !fault.IsKind(err, fault.Conflict) {
			t.Fatalf("hold after close: %v", err)
		}
	})
}

func TestPINCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		seen := map[string]bool{}
		for range 30 {
			c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
			if err != nil {
				t.Fatal(err)
			}
			if seen[c.PIN] {
				t.Fatalf("PIN %s issued twice while live", c.PIN)
			}
			seen[c.PIN] = true
		}
		// Malformed, unknown and expired codes get clear answers.
		if _, err := w.svc.JoinByPIN(ctx, "12ab56", w.ip, sessions.Client{}); !fault.IsKind(err, fault.Invalid) {
			t.Fatalf("malformed: %v", err)
		}
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
		if err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(21 * time.Minute)
		_, err = w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{})
		if fe, ok := fault.As(err); !ok || fe.Code != "code_expired" || !strings.Contains(fe.Message, "expired") {
			t.Fatalf("expired code: %v", err)
		}
		got, err := w.svc.Get(ctx, c.Session.ID)
		if err != nil || got.State != session.TimedOut || got.Failed {
			t.Fatalf("expired code's session: %+v %v", got, err)
		}
	})
}

// throttledWorld allows failures wrong PINs per address an hour and holds
// one live code, c, and a code that is not it.
func throttledWorld(t *testing.T, db *bun.DB, failures int) (w *world, c sessions.Created, wrong string) {
	t.Helper()
	w = newWorld(t, db)
	w.svc.PINLimit = sessions.PINLimit{Window: time.Hour, Failures: failures}
	c, err := w.svc.CreatePrivate(context.Background(), w.actor(w.techA1), sessions.PrivateInput{})
	if err != nil {
		t.Fatal(err)
	}
	wrong = "000000"
	if c.PIN == wrong {
		wrong = "000001"
	}
	return w, c, wrong
}

func TestPINGuessingIsThrottledPerIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w, c, wrong := throttledWorld(t, db, 5)
		for i := range 5 {
			if _, err := w.svc.JoinByPIN(ctx, wrong, w.ip, sessions.Client{}); !fault.IsKind(err, fault.NotFound) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		// Locked now, even with the right code.
		_, err := w.svc.JoinByPIN(ctx, c.PIN, w.ip, sessions.Client{})
		if fe, ok := fault.As(err); !ok || fe.Kind != fault.TooMany || fe.RetryAfterSeconds <= 0 {
			t.Fatalf("sixth attempt: %v", err)
		}
		// Another address is not affected.
		other := w.ip.Next()
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, other, sessions.Client{}); err != nil {
			t.Fatalf("other IP: %v", err)
		}
		// The window slides.
		w.clock.Advance(61 * time.Minute)
		if _, err := w.svc.JoinByPIN(ctx, wrong, w.ip, sessions.Client{}); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("after the window: %v", err)
		}
		// Pruning removes the five attempts past the window, keeps the one
		// still in it, and keeps counting it.
		if n, err := w.svc.PrunePINAttempts(ctx); err != nil || n != 5 {
			t.Fatalf("pruned %d (%v), want the 5 attempts past the window", n, err)
		}
		if n, err := db.NewSelect().Table("pin_attempts").Count(ctx); err != nil || n != 1 {
			t.Fatalf("%d attempts left (%v), want 1", n, err)
		}
		for i := range 4 {
			if _, err := w.svc.JoinByPIN(ctx, wrong, w.ip, sessions.Client{}); !fault.IsKind(err, fault.NotFound) {
				t.Fatalf("guess %d after pruning: %v", i, err)
			}
		}
		if _, err := w.svc.JoinByPIN(ctx, wrong, w.ip, sessions.Client{}); !fault.IsKind(err, fault.TooMany) {
			t.Fatalf("sixth guess in the window after pruning: %v", err)
		}
	})
}

// TestPINGuessingFromOneIPv6NetworkIsThrottled: moving to another address
// of the same /64 does not buy more guesses; another /64 is another client.
func TestPINGuessingFromOneIPv6NetworkIsThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w, c, wrong := throttledWorld(t, db, 3)
		addr := netip.MustParseAddr("2001:db8:7:7::1")
		for i := range 3 {
			if _, err := w.svc.JoinByPIN(ctx, wrong, addr, sessions.Client{}); !fault.IsKind(err, fault.NotFound) {
				t.Fatalf("guess %d: %v", i, err)
			}
			addr = addr.Next() // a fresh address for every guess
		}
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, addr, sessions.Client{}); !fault.IsKind(err, fault.TooMany) {
			t.Fatalf("fourth guess from the same /64: %v, want too many attempts", err)
		}
		if _, err := w.svc.JoinByPIN(ctx, c.PIN, netip.MustParseAddr("2001:db8:7:8::1"), sessions.Client{}); err != nil {
			t.Fatalf("another /64: %v", err)
		}
	})
}

func TestPrivateFieldRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.policy.fields.Fields[0].Required = true
		w.policy.fields.Fields[1] = sessions.FieldRule{Enabled: true, Type: "dropdown", Options: []string{"Gold", "Silver"}}
		cases := []struct {
			name  string
			in    [6]string
			field string
		}{
			{"name required", [6]string{"", "Gold"}, "cfields[0]"},
			{"dropdown value", [6]string{"Al", "Bronze"}, "cfields[1]"},
			{"disabled field", [6]string{"Al", "Gold", "x"}, "cfields[2]"},
			{"too long", [6]string{strings.Repeat("n", 65)}, "cfields[0]"},
		}
		for _, tc := range cases {
			_, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: tc.in}})
			fe, ok := fault.As(err)
			if !ok || fe.Fields[tc.field] == "" {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		if _, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Al", "Gold"}}}); err != nil {
			t.Fatal(err)
		}
		w.policy.perms.PrivateSessions = false
		if _, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Al"}}}); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("without permission: %v", err)
		}
	})
}

func TestChannelSessionTermsAndQueues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.policy.terms[w.channel1] = &sessions.Terms{Enabled: true, Text: "Be nice.", ForceScroll: true}
		j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{Fields: sessions.Fields{CField: [6]string{"Bob"}}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if j.Session.State != session.Connecting || j.Terms == nil || !j.Terms.ForceScroll {
			t.Fatalf("opened with terms: %+v", j)
		}
		// Not yet in any queue while reading the terms.
		q, err := w.svc.Queue(ctx, w.actor(w.techA1))
		if err != nil {
			t.Fatal(err)
		}
		if len(q) != 1 || q[0].State != session.Connecting {
			t.Fatalf("queue while connecting: %+v", q)
		}
		if _, err := w.svc.AnswerTerms(ctx, j.Secret, true); err != nil {
			t.Fatal(err)
		}
		for _, tech := range []int64{w.techA1, w.techA2} {
			q, err := w.svc.Queue(ctx, w.actor(tech))
			if err != nil || len(q) != 1 || q[0].State != session.Waiting {
				t.Fatalf("technician %d queue: %+v %v", tech, q, err)
			}
		}
		if q, _ := w.svc.Queue(ctx, w.actor(w.tB)); len(q) != 0 {
			t.Fatalf("group B sees channel 1: %+v", q)
		}
		// Exclusion (CH-3) removes A2 from the channel's queue.
		if _, err := w.org.SetExclusion(ctx, orgMaster(), w.channel1, w.techA2, true); err != nil {
			t.Fatal(err)
		}
		if q, _ := w.svc.Queue(ctx, w.actor(w.techA2)); len(q) != 0 {
			t.Fatalf("excluded technician still sees the session: %+v", q)
		}
		// A declined session ends as failed.
		d, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.svc.AnswerTerms(ctx, d.Secret, false)
		if err != nil || got.State != session.Closed || !got.Failed {
			t.Fatalf("declined: %+v %v", got, err)
		}
		if ev := eventTypes(t, w, d.Session.ID); ev != "session.created,session.connecting,session.closed" {
			t.Fatalf("declined outbox: %s", ev)
		}
	})
}

func TestPickUpRaceHasOneWinner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, tech := range []int64{w.techA1, w.techA2} {
			wg.Go(func() { _, errs[i] = w.svc.PickUp(ctx, w.actor(tech), j.Session.ID) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case fault.IsKind(err, fault.Conflict):
			default:
				t.Fatalf("pick-up race: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d winners: %v", won, errs)
		}
		if ev := eventTypes(t, w, j.Session.ID); strings.Count(ev, "session.picked_up") != 1 {
			t.Fatalf("outbox after race: %s", ev)
		}
	})
}

// TestCapacityHoldsUnderConcurrentPickUps: a technician whose group allows
// one active session clicks several waiting sessions at once (or two nodes
// auto-start two sessions to them). Exactly one pick-up wins; the others
// are refused for capacity and leave their sessions waiting.
func TestCapacityHoldsUnderConcurrentPickUps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.presence.max = 1
		const n = 6
		ids := make([]int64, n)
		for i := range ids {
			j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = j.Session.ID
		}
		for round := range 5 {
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{})
			for i, id := range ids {
				wg.Go(func() {
					<-start
					_, errs[i] = w.svc.PickUp(ctx, w.actor(w.techA1), id)
				})
			}
			close(start)
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch fe, ok := fault.As(err); {
				case err == nil && won >= 0:
					t.Fatalf("round %d: sessions %d and %d both picked up by a technician allowed one", round, ids[won], ids[i])
				case err == nil:
					won = i
				case !ok || fe.Code != "too_many_active_sessions":
					t.Fatalf("round %d: pick-up of %d: %v", round, ids[i], err)
				}
			}
			if won < 0 {
				t.Fatalf("round %d: nobody won: %v", round, errs)
			}
			if n, err := w.svc.ActiveCount(ctx, w.techA1); err != nil || n != 1 {
				t.Fatalf("round %d: %d active sessions (%v), want 1", round, n, err)
			}
			for i, id := range ids {
				got, err := w.svc.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if want := session.Waiting; i != won && got.State != want {
					t.Fatalf("round %d: refused session %d is %s, want %s", round, id, got.State, want)
				}
				if ev := eventTypes(t, w, id); i != won && strings.Contains(ev, "session.picked_up") {
					t.Fatalf("round %d: refused session %d has outbox %s", round, id, ev)
				}
			}
			// The winner ends; its session is replaced by a fresh waiting one.
			if _, err := w.svc.Close(ctx, w.actor(w.techA1), ids[won]); err != nil {
				t.Fatal(err)
			}
			j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
			if err != nil {
				t.Fatal(err)
			}
			ids[won] = j.Session.ID
		}
	})
}

func TestCapacityAndTransfers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.presence.max = 1
		open := func() int64 {
			j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
			if err != nil {
				t.Fatal(err)
			}
			return j.Session.ID
		}
		first, second := open(), open()
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), first); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.PickUp(ctx, w.actor(w.techA1), second)
		if fe, ok := fault.As(err); !ok || fe.Code != "too_many_active_sessions" {
			t.Fatalf("over capacity: %v", err)
		}
		// Transfers to a busy technician are refused (SESS-10) and change nothing.
		w.presence.status[w.tB] = "busy"
		_, err = w.svc.Transfer(ctx, w.actor(w.techA1), first, sessions.TransferRequest{Kind: session.ToTechnician, ID: w.tB, Comment: "printer"})
		if fe, ok := fault.As(err); !ok || fe.Code != "technician_unavailable" {
			t.Fatalf("transfer to busy: %v", err)
		}
		if got, _ := w.svc.Get(ctx, first); got.State != session.Active {
			t.Fatalf("refused transfer changed the session: %s", got.State)
		}
		delete(w.presence.status, w.tB)
		w.clock.Advance(10 * time.Second)
		got, err := w.svc.Transfer(ctx, w.actor(w.techA1), first, sessions.TransferRequest{Kind: session.ToTechnician, ID: w.tB, Comment: "printer"})
		if err != nil || got.State != session.Transferring {
			t.Fatalf("transfer: %+v %v", got, err)
		}
		q, err := w.svc.Queue(ctx, w.actor(w.tB))
		if err != nil || len(q) != 1 || q[0].Direction != "incoming" || q[0].Comment != "printer" || *q[0].TransferredBy != w.techA1 {
			t.Fatalf("target's queue: %+v %v", q, err)
		}
		// The origin sees it as Transferred, with who and why (SESS-10), and cannot take it back.
		q, err = w.svc.Queue(ctx, w.actor(w.techA1))
		found := false
		for _, e := range q {
			if e.ID == first {
				found = e.Direction == "outgoing" && e.State == session.Transferring && e.Comment == "printer" && *e.TransferredBy == w.techA1
			}
		}
		if err != nil || !found {
			t.Fatalf("origin's queue after the transfer: %+v %v", q, err)
		}
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), first); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("origin picked the transferred session back: %v", err)
		}
		w.clock.Advance(20 * time.Second)
		got, err = w.svc.PickUp(ctx, w.actor(w.tB), first)
		if err != nil || got.Buckets.Transfer != 20 {
			t.Fatalf("picked up after transfer: %+v %v", got.Buckets, err)
		}
		// Freed capacity: A1 can take the second one now.
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), second); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTimersExpireAndAutoTransfer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		w.policy.timeouts.Waiting = 5 * time.Minute
		w.policy.autoTransfer, w.policy.autoAfter, w.policy.autoTarget = true, 2*time.Minute, w.channel2
		j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
		if err != nil {
			t.Fatal(err)
		}
		id := j.Session.ID
		due, ok := w.timers.get(id, sessions.TimerAutoTransfer)
		if !ok || !due.Equal(w.clock.Now().Add(2*time.Minute)) {
			t.Fatalf("auto-transfer timer %v %v", due, ok)
		}
		// Fired early (a clock skew between nodes): nothing happens.
		if err := w.svc.FireTimer(ctx, id, sessions.TimerAutoTransfer); err != nil {
			t.Fatal(err)
		}
		if got, _ := w.svc.Get(ctx, id); *got.ChannelID != w.channel1 || got.QueueID != w.channel1 {
			t.Fatalf("early fire moved the session: %+v", got)
		}
		w.clock.Advance(2 * time.Minute)
		if err := w.svc.FireTimer(ctx, id, sessions.TimerAutoTransfer); err != nil {
			t.Fatal(err)
		}
		q, err := w.svc.Queue(ctx, w.actor(w.tB))
		if err != nil || len(q) != 1 || q[0].Direction != "incoming" || *q[0].TransferredBy != 0 {
			t.Fatalf("auto-transferred session in B's queue: %+v %v", q, err)
		}
		// Outgoing in the origin channel's queue, Incoming in the target's.
		q, err = w.svc.Queue(ctx, w.actor(w.techA1))
		if err != nil || len(q) != 1 || q[0].Direction != "outgoing" || *q[0].TransferredBy != 0 {
			t.Fatalf("auto-transferred session in the origin queue: %+v %v", q, err)
		}
		// The waiting timeout restarts in the new queue and then fires.
		due, ok = w.timers.get(id, sessions.TimerTimeout)
		if !ok || !due.Equal(w.clock.Now().Add(5*time.Minute)) {
			t.Fatalf("waiting timeout after auto-transfer: %v %v", due, ok)
		}
		w.clock.Advance(5 * time.Minute)
		if err := w.svc.FireTimer(ctx, id, sessions.TimerTimeout); err != nil {
			t.Fatal(err)
		}
		got, err := w.svc.Get(ctx, id)
		if err != nil || got.State != session.TimedOut || !got.Missed || got.Aggregate.EndReason != session.WaitingTimeout {
			t.Fatalf("after waiting timeout: %+v %v", got, err)
		}
		if ev := eventTypes(t, w, id); ev != "session.created,session.connecting,session.transferred,session.timed_out" {
			t.Fatalf("outbox: %s", ev)
		}
		// A timer for a session that has gone is not an error.
		if err := w.svc.FireTimer(ctx, 999999, sessions.TimerTimeout); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.FireTimer(ctx, id, "nonsense"); err == nil || errors.Is(err, context.Canceled) {
			t.Fatal("unknown timer kind accepted")
		}
	})
}

func TestRebootAndReconnect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		j, err := w.svc.OpenChannel(ctx, w.channel1, sessions.ChannelForm{}, false)
		if err != nil {
			t.Fatal(err)
		}
		id := j.Session.ID
		if _, err := w.svc.PickUp(ctx, w.actor(w.techA1), id); err != nil {
			t.Fatal(err)
		}
		w.policy.perms.Reboot = false
		if _, err := w.svc.Reboot(ctx, w.actor(w.techA1), id); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("reboot without permission: %v", err)
		}
		w.policy.perms.Reboot = true
		if _, err := w.svc.Reboot(ctx, w.actor(w.techA1), id); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(40 * time.Second)
		if err := w.svc.CustomerConnected(ctx, id); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(10 * time.Second)
		if err := w.svc.CustomerDisconnected(ctx, id); err != nil {
			t.Fatal(err)
		}
		w.clock.Advance(5 * time.Second)
		if err := w.svc.CustomerConnected(ctx, id); err != nil {
			t.Fatal(err)
		}
		got, err := w.svc.Get(ctx, id)
		if err != nil || got.State != session.Active || got.Buckets.Reboot != 40 || got.Buckets.Reconnect != 5 || got.Buckets.Active != 10 {
			t.Fatalf("after reboot and drop: %s %+v %v", got.State, got.Buckets, err)
		}
	})
}
