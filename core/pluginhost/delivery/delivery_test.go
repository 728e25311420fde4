package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

func TestEnqueue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		errRollback := errors.New("roll back")
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := Enqueue(ctx, tx, event(1, 10, t0), []string{"crm", "survey"}); err != nil {
				t.Fatal(err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if n := count(t, db, "1 = 1"); n != 0 {
			t.Fatalf("a rolled-back enqueue left %d deliveries", n)
		}

		mustEnqueue(t, db, event(1, 10, t0), "crm", "survey")
		mustEnqueue(t, db, event(1, 10, t0), "crm") // again: nothing new
		mustEnqueue(t, db, event(2, 10, t0))        // no plugins: nothing
		if n := count(t, db, "state = 'pending' AND next_at = ? AND created_at = ?", t0, t0); n != 2 {
			t.Fatalf("want 2 pending deliveries due at the event's time, have %d", n)
		}
		if err := Enqueue(ctx, db, Event{ID: 3, SessionID: 10, Payload: json.RawMessage(`{`), At: t0}, []string{"crm"}); err == nil {
			t.Fatal("invalid JSON payload accepted")
		}

		rec := &recorder{}
		q := newQueue(t, db, clocktest.New(t0), rec.deliver)
		if n := drain(t, q); n != 2 {
			t.Fatalf("delivered %d, want 2", n)
		}
		got := rec.all()
		slices.SortFunc(got, func(a, b Delivery) int { return strings.Compare(a.Plugin, b.Plugin) })
		want := Delivery{ID: got[0].ID, Plugin: "crm", EventID: 1, StableID: "evt_1", SessionID: 10, Type: "session.test",
			ActorID: 7, Payload: json.RawMessage(`{"n":1}`), At: t0, Attempt: 1}
		if fmt.Sprint(got[0]) != fmt.Sprint(want) {
			t.Fatalf("delivery\n got %+v\nwant %+v", got[0], want)
		}
		if e := got[1].Event(); e.ID != "evt_1" || e.Seq != 1 || e.Attempt != 1 || string(e.Payload) != `{"n":1}` {
			t.Fatalf("sdk event %+v", e)
		}
	})
}

func TestBackoff(t *testing.T) {
	q := &Queue{cfg: Config{BackoffBase: time.Second, BackoffCap: time.Hour, Rand: maxRand}}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{12, 2048 * time.Second}, {13, time.Hour}, {62, time.Hour}, {100, time.Hour},
	} {
		if got := q.Backoff(tc.attempt); got != tc.want {
			t.Errorf("Backoff(%d) = %s, want %s", tc.attempt, got, tc.want)
		}
	}
	q.cfg.Rand = func(n int64) int64 {
		if n != int64(8*time.Second)+1 {
			t.Fatalf("jitter drawn from [0, %d)", n)
		}
		return 0
	}
	if got := q.Backoff(4); got != 0 {
		t.Fatalf("full jitter: Backoff = %s, want 0", got)
	}
}

// TestRetryTiming checks when each next attempt happens, with the clock
// moved by hand: never before the delay, exactly at it.
func TestRetryTiming(t *testing.T) {
	transport := errors.New("connection refused")
	for _, tc := range []struct {
		name    string
		answer  func(d Delivery) (sdk.Result, error)
		outcome Outcome
		delays  []time.Duration // before attempts 2, 3, ...
	}{
		{"backoff", func(Delivery) (sdk.Result, error) { return sdk.RetryLater(0, "busy"), nil },
			OutcomeRetry, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"retry after", func(Delivery) (sdk.Result, error) { return sdk.RetryLater(10*time.Minute, "rate limited"), nil },
			OutcomeRetry, []time.Duration{10 * time.Minute, 10 * time.Minute}},
		{"transport error", func(Delivery) (sdk.Result, error) { return sdk.Result{}, transport },
			OutcomeError, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				clk := clocktest.New(t0)
				rec := &recorder{answer: tc.answer}
				q := newQueue(t, db, clk, rec.deliver)
				mustEnqueue(t, db, event(1, 10, t0), "crm")
				if n := step(t, q); n != 1 {
					t.Fatalf("first attempt: %d", n)
				}
				for i, d := range tc.delays {
					clk.Advance(d - time.Microsecond)
					if n := step(t, q); n != 0 {
						t.Fatalf("attempt %d ran %s early", i+2, time.Microsecond)
					}
					clk.Advance(time.Microsecond)
					if n := step(t, q); n != 1 {
						t.Fatalf("attempt %d did not run after %s", i+2, d)
					}
				}
				v := view(t, q, "crm", 1)
				if v.State != Pending || v.Attempts != len(tc.delays)+1 || len(v.History) != v.Attempts {
					t.Fatalf("after retries: %+v", v)
				}
				for _, a := range v.History {
					if a.Outcome != tc.outcome {
						t.Fatalf("attempt outcome %s, want %s", a.Outcome, tc.outcome)
					}
				}
				if v.LastError == "" {
					t.Fatal("no last error")
				}
			})
		})
	}
}

func TestRetryGivesUpAfterMaxAge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(t0)
		rec := &recorder{answer: func(Delivery) (sdk.Result, error) { return sdk.RetryLater(0, "down"), nil }}
		q := newQueue(t, db, clk, rec.deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		mustEnqueue(t, db, event(2, 10, t0), "crm")
		for range 200 {
			if n := step(t, q); n == 0 {
				t.Fatal("nothing due at next_at")
			}
			v := view(t, q, "crm", 1)
			if v.State != Pending {
				break
			}
			clk.Set(v.NextAt)
		}
		v := view(t, q, "crm", 1)
		if v.State != Failed {
			t.Fatalf("state %s after 200 attempts", v.State)
		}
		last := v.History[len(v.History)-1].At
		if !last.Equal(t0.Add(DefaultMaxAge)) {
			t.Fatalf("last attempt at %s, want when the window closes (%s)", last, t0.Add(DefaultMaxAge))
		}
		// 13 attempts by 1+2+...+2048 s = 4095 s, then hourly (70 more
		// before 72 h), then one when the window closes.
		if v.Attempts != 84 {
			t.Fatalf("%d attempts, want 84", v.Attempts)
		}
		if event2 := view(t, q, "crm", 2); event2.Attempts != 0 {
			t.Fatalf("event 2 was sent while event 1 was retrying: %+v", event2)
		}
		rec.setAnswer(nil)
		if n := drain(t, q); n != 1 {
			t.Fatalf("after event 1 failed, %d delivered, want event 2", n)
		}
	})
}

func TestPermanentAndSkip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  func(Delivery) (sdk.Result, error)
		state   State
		outcome Outcome
		errText string
	}{
		{"permanent", func(Delivery) (sdk.Result, error) { return sdk.Failed("no such contact"), nil },
			Failed, OutcomePermanent, "no such contact"},
		{"skip", func(Delivery) (sdk.Result, error) {
			return sdk.Result{}, fmt.Errorf("disabled for unit 3: %w", ErrSkip)
		},
			Skipped, OutcomeSkipped, "disabled for unit 3: delivery skipped"},
		{"unknown outcome", func(Delivery) (sdk.Result, error) { return sdk.Result{Outcome: 9}, nil },
			Pending, OutcomeError, "plugin answered with unknown outcome 9"},
		{"panic", func(Delivery) (sdk.Result, error) { panic("boom") },
			Pending, OutcomeError, "panic: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				rec := &recorder{}
				rec.answer = func(d Delivery) (sdk.Result, error) {
					if d.EventID == 1 {
						return tc.answer(d)
					}
					return sdk.Acked(), nil
				}
				q := newQueue(t, db, clocktest.New(t0), rec.deliver)
				mustEnqueue(t, db, event(1, 10, t0), "crm")
				mustEnqueue(t, db, event(2, 10, t0), "crm")
				drain(t, q)
				v := view(t, q, "crm", 1)
				if v.State != tc.state || len(v.History) != 1 || v.History[0].Outcome != tc.outcome || v.History[0].Error != tc.errText {
					t.Fatalf("event 1: %+v", v)
				}
				wantNext := Delivered
				if tc.state == Pending {
					wantNext = Blocked // held behind the retry
				}
				if v2 := view(t, q, "crm", 2); v2.State != wantNext {
					t.Fatalf("event 2 is %s, want %s", v2.State, wantNext)
				}
			})
		})
	}
}

// TestOrderWithinSession: a retrying delivery holds back the later ones
// of its session and plugin, not those of other sessions or plugins.
func TestOrderWithinSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := clocktest.New(t0)
		rec := &recorder{}
		rec.answer = func(d Delivery) (sdk.Result, error) {
			if d.Plugin == "crm" && d.EventID == 1 && d.Attempt == 1 {
				return sdk.RetryLater(time.Minute, "later"), nil
			}
			return sdk.Acked(), nil
		}
		q := newQueue(t, db, clk, rec.deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm", "survey")
		mustEnqueue(t, db, event(2, 10, t0), "crm", "survey")
		mustEnqueue(t, db, event(3, 11, t0), "crm")
		drain(t, q)
		got := rec.events()
		slices.Sort(got)
		if want := []string{"crm/1#1", "crm/3#1", "survey/1#1", "survey/2#1"}; !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		// Later events of the session wait blocked behind the retry.
		mustEnqueue(t, db, event(4, 10, t0), "crm")
		for _, id := range []int64{2, 4} {
			if v := view(t, q, "crm", id); v.State != Blocked || v.Attempts != 0 {
				t.Fatalf("event %d: %s after %d attempts, want blocked and none", id, v.State, v.Attempts)
			}
		}
		clk.Advance(time.Minute)
		rec.reset()
		drain(t, q)
		if got, want := rec.events(), []string{"crm/1#2", "crm/2#1", "crm/4#1"}; !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
	})
}

func TestReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{answer: func(Delivery) (sdk.Result, error) { return sdk.Failed("bad config"), nil }}
		q := newQueue(t, db, clk, rec.deliver)
		for i := range int64(5) {
			mustEnqueue(t, db, event(i+1, 10+i, t0.Add(time.Duration(i)*time.Hour)), "crm")
		}
		mustEnqueue(t, db, event(9, 10, t0), "other")
		clk.Advance(4 * time.Hour)
		drain(t, q)
		if n := count(t, db, "state = 'failed'"); n != 6 {
			t.Fatalf("%d failed, want 6", n)
		}
		clk.Advance(4 * 24 * time.Hour) // well past the first window
		rec.setAnswer(func(d Delivery) (sdk.Result, error) {
			if d.EventID == 2 && d.Attempt == 2 {
				return sdk.RetryLater(0, "still starting"), nil
			}
			return sdk.Acked(), nil
		})

		one := view(t, q, "crm", 1)
		if n, err := q.Replay(ctx, "other", one.ID); err != nil || n != 0 {
			t.Fatalf("replay of another plugin's delivery: %d, %v", n, err)
		}
		if n, err := q.Replay(ctx, "crm", one.ID); err != nil || n != 1 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		drain(t, q)
		one = view(t, q, "crm", 1)
		if one.State != Delivered || one.Attempts != 2 || len(one.History) != 2 || one.History[1].Outcome != OutcomeAck {
			t.Fatalf("replayed: %+v", one)
		}
		if n, err := q.Replay(ctx, "crm", one.ID); err != nil || n != 0 {
			t.Fatalf("replay of a delivered one: %d, %v", n, err)
		}

		// Events at t0+1h, +2h, +3h; [t0+1h, t0+3h) holds two.
		n, err := q.ReplayRange(ctx, "crm", t0.Add(time.Hour), t0.Add(3*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("replay range: %d, %v", n, err)
		}
		drain(t, q)
		// Event 2 retries in a fresh window: one second, not "gave up".
		two := view(t, q, "crm", 2)
		if two.State != Pending || !two.NextAt.Equal(clk.Now().Add(time.Second)) {
			t.Fatalf("replayed event 2 after a retry: %+v", two)
		}
		if three := view(t, q, "crm", 3); three.State != Delivered {
			t.Fatalf("event 3: %s", three.State)
		}
		if four := view(t, q, "crm", 4); four.State != Failed {
			t.Fatalf("event 4 outside the range: %s", four.State)
		}
	})
}

// TestRecover simulates a hub killed mid-delivery: rows left running are
// handed back by Recover on the same node, or by the lease's expiry on any.
func TestRecover(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{}
		crashed := newQueue(t, db, clk, rec.deliver, func(c *Config) { c.Node = "hub-1" })
		other := newQueue(t, db, clk, rec.deliver, func(c *Config) { c.Node = "hub-2" })
		for i := range int64(3) {
			mustEnqueue(t, db, event(i+1, 10+i, t0), "crm")
		}
		if cs, err := crashed.claim(ctx, "crm", 2); err != nil || len(cs) != 2 {
			t.Fatalf("claim: %d, %v", len(cs), err)
		}
		if cs, err := other.claim(ctx, "crm", 5); err != nil || len(cs) != 1 {
			t.Fatalf("claim: %d, %v", len(cs), err)
		}

		restarted := newQueue(t, db, clk, rec.deliver, func(c *Config) { c.Node = "hub-1" })
		if n, err := restarted.Recover(ctx); err != nil || n != 2 {
			t.Fatalf("recover: %d, %v", n, err)
		}
		if n := drain(t, restarted); n != 2 {
			t.Fatalf("delivered %d after recovery, want 2", n)
		}
		for _, d := range rec.all() {
			if d.Attempt != 2 {
				t.Fatalf("redelivery is attempt %d, want 2", d.Attempt)
			}
			v := view(t, restarted, "crm", d.EventID)
			if len(v.History) != 2 || v.History[0].Outcome != OutcomeError || v.History[1].Outcome != OutcomeAck {
				t.Fatalf("history %+v", v.History)
			}
		}

		// hub-2's delivery is left alone until its lease expires.
		if n := count(t, db, "state = 'running'"); n != 1 {
			t.Fatalf("%d running, want hub-2's one", n)
		}
		clk.Advance(DefaultLease - time.Microsecond)
		if n, err := restarted.expireLeases(ctx); err != nil || n != 0 {
			t.Fatalf("expired early: %d, %v", n, err)
		}
		clk.Advance(time.Microsecond)
		if n, err := restarted.expireLeases(ctx); err != nil || n != 1 {
			t.Fatalf("expire: %d, %v", n, err)
		}
		if n := drain(t, restarted); n != 1 {
			t.Fatalf("delivered %d after the lease expired, want 1", n)
		}
		if n := count(t, db, "state = 'delivered'"); n != 3 {
			t.Fatalf("%d delivered, want 3", n)
		}
	})
}

// TestStaleResultIgnored: a worker whose lease was taken over cannot
// overwrite the new claim's state.
func TestStaleResultIgnored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		q := newQueue(t, db, clk, (&recorder{}).deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		old, err := q.claim(ctx, "crm", 1)
		if err != nil || len(old) != 1 {
			t.Fatal(len(old), err)
		}
		clk.Advance(DefaultLease)
		if _, err := q.expireLeases(ctx); err != nil {
			t.Fatal(err)
		}
		cur, err := q.claim(ctx, "crm", 1)
		if err != nil || len(cur) != 1 {
			t.Fatal(len(cur), err)
		}
		stale := result{c: old[0], outcome: OutcomeRetry, at: clk.Now()}
		if err := q.record(ctx, []result{stale}); err != nil {
			t.Fatal(err)
		}
		if v := view(t, q, "crm", 1); v.State != Running || v.Attempts != 2 {
			t.Fatalf("the stale result changed the delivery: %+v", v)
		}
		if err := q.record(ctx, []result{{c: cur[0], outcome: OutcomeAck, at: clk.Now()}}); err != nil {
			t.Fatal(err)
		}
		if v := view(t, q, "crm", 1); v.State != Delivered {
			t.Fatalf("state %s", v.State)
		}
	})
}

func TestNotReadyHolds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ready := false
		rec := &recorder{}
		q := newQueue(t, db, clocktest.New(t0), rec.deliver, func(c *Config) {
			c.Ready = func(p string) bool { return p != "crm" || ready }
		})
		mustEnqueue(t, db, event(1, 10, t0), "crm", "survey")
		if n := drain(t, q); n != 1 {
			t.Fatalf("delivered %d, want survey's only", n)
		}
		if v := view(t, q, "crm", 1); v.State != Pending || v.Attempts != 0 || len(v.History) != 0 {
			t.Fatalf("crm's delivery was touched while not ready: %+v", v)
		}
		ready = true
		if n := drain(t, q); n != 1 {
			t.Fatalf("delivered %d once ready, want 1", n)
		}
		if v := view(t, q, "crm", 1); v.State != Delivered || v.Attempts != 1 {
			t.Fatalf("%+v", v)
		}
	})
}

func TestDeliveryLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{answer: func(d Delivery) (sdk.Result, error) {
			clk.Advance(time.Duration(d.EventID) * 10 * time.Millisecond) // the call's duration
			switch d.EventID % 3 {
			case 0:
				return sdk.Failed(fmt.Sprintf("rejected %d", d.EventID)), nil
			case 1:
				return sdk.Acked(), nil
			}
			return sdk.RetryLater(time.Hour, "busy"), nil
		}}
		q := newQueue(t, db, clk, rec.deliver)
		for i := range int64(9) {
			mustEnqueue(t, db, event(i+1, 100+i, t0.Add(time.Duration(i)*time.Minute)), "crm")
		}
		mustEnqueue(t, db, event(50, 999, t0), "other")
		clk.Advance(10 * time.Minute)
		drain(t, q)

		all, err := q.Deliveries(ctx, "crm", Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 9 || all[0].EventID != 9 || all[8].EventID != 1 {
			t.Fatalf("log not newest first or wrong size: %d", len(all))
		}
		three := all[6]
		if three.EventID != 3 || three.State != Failed || three.LastError != "rejected 3" ||
			three.StableID != "evt_3" || three.SessionID != 102 || three.Type != "session.test" || three.ActorID != 7 ||
			string(three.Payload) != `{"n":3}` || !three.EventAt.Equal(t0.Add(2*time.Minute)) || three.Attempts != 1 {
			t.Fatalf("event 3: %+v", three)
		}
		if h := three.History; len(h) != 1 || h[0].Outcome != OutcomePermanent || h[0].Duration != 30*time.Millisecond || h[0].Error != "rejected 3" {
			t.Fatalf("event 3 history: %+v", h)
		}
		if one := all[8]; one.State != Delivered || one.DeliveredAt == nil || one.LastError != "" {
			t.Fatalf("event 1: %+v", one)
		}

		for _, tc := range []struct {
			name string
			f    Filter
			want []int64
		}{
			{"failed", Filter{State: Failed}, []int64{9, 6, 3}},
			{"pending", Filter{State: Pending}, []int64{8, 5, 2}},
			{"time range", Filter{From: t0.Add(2 * time.Minute), To: t0.Add(5 * time.Minute)}, []int64{5, 4, 3}},
			{"page 1", Filter{Limit: 4}, []int64{9, 8, 7, 6}},
			{"page 2", Filter{Limit: 4, BeforeID: all[3].ID}, []int64{5, 4, 3, 2}},
			{"state and range", Filter{State: Delivered, From: t0.Add(time.Minute)}, []int64{7, 4}},
		} {
			vs, err := q.Deliveries(ctx, "crm", tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, v := range vs {
				got = append(got, v.EventID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
	})
}
