package delivery

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

// checkHeads fails the test unless every (plugin, session) with unfinished
// deliveries has exactly one pending or running delivery.
func checkHeads(t testing.TB, db *bun.DB) {
	t.Helper()
	var bad []struct {
		PluginID  string `bun:"plugin_id"`
		SessionID int64  `bun:"session_id"`
		Heads     int    `bun:"heads"`
	}
	err := db.NewRaw(`SELECT plugin_id, session_id, sum(CASE WHEN state = 'blocked' THEN 0 ELSE 1 END) AS heads
FROM plugin_deliveries WHERE state IN ('pending', 'running', 'blocked')
GROUP BY plugin_id, session_id HAVING sum(CASE WHEN state = 'blocked' THEN 0 ELSE 1 END) <> 1`).Scan(context.Background(), &bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		t.Errorf("plugin %s, session %d has %d pending or running deliveries, want 1", b.PluginID, b.SessionID, b.Heads)
	}
}

// states returns plugin's deliveries as "<event id>:<state>", by event id.
func states(t testing.TB, q *Queue, plugin string) []string {
	t.Helper()
	vs, err := q.Deliveries(context.Background(), plugin, Filter{Limit: MaxLogLimit})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(vs, func(a, b DeliveryView) int { return int(a.EventID - b.EventID) })
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%d:%s", v.EventID, v.State))
	}
	return out
}

func wantStates(t testing.TB, q *Queue, plugin string, want ...string) {
	t.Helper()
	if got := states(t, q, plugin); !slices.Equal(got, want) {
		t.Fatalf("%s's deliveries: %v, want %v", plugin, got, want)
	}
}

// insertRow writes a delivery row as a racing transaction would have
// committed it, bypassing Enqueue's check.
func insertRow(t testing.TB, db *bun.DB, plugin string, eventID, session int64, state State, at time.Time) {
	t.Helper()
	_, err := db.NewRaw(`INSERT INTO plugin_deliveries (plugin_id, event_id, session_id, event_type, actor_id, payload, event_at,
	state, attempts, window_attempts, next_at, created_at, claimed_by, last_error)
VALUES (?, ?, ?, 'session.test', 7, '{}', ?, ?, 0, 0, ?, ?, '', '')`, plugin, eventID, session, at, string(state), at, at).Exec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
}

// TestOnlyHeadsPending: a session's first unfinished delivery is pending,
// the later ones blocked; each end (delivered, failed, skipped) promotes
// the next, a retry does not, and the log shows and filters blocked.
func TestOnlyHeadsPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{answer: func(d Delivery) (sdk.Result, error) {
			switch {
			case d.EventID == 1 && d.Attempt == 1:
				return sdk.RetryLater(time.Minute, "busy"), nil
			case d.EventID == 2:
				return sdk.Failed("no such contact"), nil
			case d.EventID == 3:
				return sdk.Result{}, fmt.Errorf("disabled: %w", ErrSkip)
			}
			return sdk.Acked(), nil
		}}
		q := newQueue(t, db, clk, rec.deliver)
		for i := range int64(5) {
			mustEnqueue(t, db, event(i+1, 10, t0), "crm")
		}
		mustEnqueue(t, db, event(6, 11, t0), "crm", "survey")
		// Several events of one session in one transaction, as the hub's
		// batch appends do.
		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			for _, id := range []int64{7, 8} {
				if err := Enqueue(ctx, tx, event(id, 12, t0), []string{"crm"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantStates(t, q, "crm", "1:pending", "2:blocked", "3:blocked", "4:blocked", "5:blocked", "6:pending", "7:pending", "8:blocked")
		wantStates(t, q, "survey", "6:pending")
		checkHeads(t, db)

		blocked, err := q.Deliveries(ctx, "crm", Filter{State: Blocked})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, v := range blocked {
			ids = append(ids, v.EventID)
		}
		if !slices.Equal(ids, []int64{8, 5, 4, 3, 2}) {
			t.Fatalf("blocked filter: %v", ids)
		}

		// A retry promotes nothing.
		if n := drain(t, q); n != 5 { // crm 1 (retry), 6, 7, 8; survey 6
			t.Fatalf("drained %d, want 5", n)
		}
		wantStates(t, q, "crm", "1:pending", "2:blocked", "3:blocked", "4:blocked", "5:blocked", "6:delivered", "7:delivered", "8:delivered")
		checkHeads(t, db)

		// Delivered, failed and skipped each let the next one go, due now.
		clk.Advance(time.Minute)
		for _, want := range [][]string{
			{"1:delivered", "2:pending", "3:blocked"},
			{"1:delivered", "2:failed", "3:pending"},
			{"1:delivered", "2:failed", "3:skipped", "4:pending"},
		} {
			if n := step(t, q); n != 1 {
				t.Fatalf("step delivered %d, want 1", n)
			}
			if got := states(t, q, "crm")[:len(want)]; !slices.Equal(got, want) {
				t.Fatalf("crm's deliveries: %v, want %v", got, want)
			}
			checkHeads(t, db)
			clk.Advance(time.Second)
		}
		if v := view(t, q, "crm", 4); !v.NextAt.Equal(clk.Now().Add(-time.Second)) {
			t.Fatalf("promoted delivery due at %s, want when it was promoted (%s)", v.NextAt, clk.Now().Add(-time.Second))
		}
		drain(t, q)
		wantStates(t, q, "crm", "1:delivered", "2:failed", "3:skipped", "4:delivered", "5:delivered", "6:delivered", "7:delivered", "8:delivered")
		if got, want := rec.events(), []string{"crm/1#1", "crm/6#1", "crm/7#1", "crm/8#1", "survey/6#1",
			"crm/1#2", "crm/2#1", "crm/3#1", "crm/4#1", "crm/5#1"}; !slices.Equal(sorted(got[:5]), want[:5]) || !slices.Equal(got[5:], want[5:]) {
			t.Fatalf("delivered %v, want %v", got, want)
		}

		// A new event of a session whose deliveries have all ended is
		// pending at once.
		mustEnqueue(t, db, event(9, 10, t0), "crm")
		if v := view(t, q, "crm", 9); v.State != Pending {
			t.Fatalf("event 9 is %s", v.State)
		}
	})
}

// TestRetryBehindANewEventKeepsOneHead: an event enqueued while its
// session's delivery runs is pending behind it (the claim's guard holds
// it); when the running one is handed back for a retry, the newer one is
// blocked again in the same transaction, so the session keeps one head
// and both go, in order, with no repair.
func TestRetryBehindANewEventKeepsOneHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{}
		q := newQueue(t, db, clk, rec.deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		running, err := q.claim(ctx, "crm", 5)
		if err != nil || len(running) != 1 {
			t.Fatal(len(running), err)
		}
		mustEnqueue(t, db, event(2, 10, t0), "crm")
		mustEnqueue(t, db, event(3, 10, t0), "crm")
		wantStates(t, q, "crm", "1:running", "2:pending", "3:blocked")
		retry := result{c: running[0], outcome: OutcomeRetry, res: sdk.RetryLater(time.Minute, "busy"), at: clk.Now()}
		if err := q.record(ctx, []result{retry}); err != nil {
			t.Fatal(err)
		}
		wantStates(t, q, "crm", "1:pending", "2:blocked", "3:blocked")
		checkHeads(t, db)
		if n := drain(t, q); n != 0 {
			t.Fatalf("delivered %d while the retry waits", n)
		}
		clk.Advance(time.Minute)
		drain(t, q)
		if got := rec.events(); !slices.Equal(got, []string{"crm/1#2", "crm/2#1", "crm/3#1"}) {
			t.Fatalf("delivered %v", got)
		}

		// The same when a running delivery's lease expires.
		mustEnqueue(t, db, event(4, 20, clk.Now()), "crm")
		if running, err = q.claim(ctx, "crm", 5); err != nil || len(running) != 1 {
			t.Fatal(len(running), err)
		}
		mustEnqueue(t, db, event(5, 20, clk.Now()), "crm")
		clk.Advance(DefaultLease)
		if n, err := q.expireLeases(ctx); err != nil || n != 1 {
			t.Fatalf("expired %d (%v), want 1", n, err)
		}
		if got := states(t, q, "crm")[3:]; !slices.Equal(got, []string{"4:pending", "5:blocked"}) {
			t.Fatalf("after the lease expired: %v", got)
		}
		checkHeads(t, db)
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestStaleResultPromotesNothing: a result recorded after its claim was
// taken over lets no later delivery of the session go.
func TestStaleResultPromotesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		q := newQueue(t, db, clk, (&recorder{}).deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		mustEnqueue(t, db, event(2, 10, t0), "crm")
		old, err := q.claim(ctx, "crm", 5)
		if err != nil || len(old) != 1 {
			t.Fatal(len(old), err)
		}
		clk.Advance(DefaultLease)
		if _, err := q.expireLeases(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.record(ctx, []result{{c: old[0], outcome: OutcomeAck, at: clk.Now()}}); err != nil {
			t.Fatal(err)
		}
		wantStates(t, q, "crm", "1:pending", "2:blocked")
	})
}

// TestReplayOrder: a replayed delivery is pending if its session has
// nothing unfinished, else blocked and next after the current one; a range
// replays several of one session in event order.
func TestReplayOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{answer: func(d Delivery) (sdk.Result, error) {
			if d.Attempt == 1 && d.EventID <= 3 {
				return sdk.Failed("bad config"), nil
			}
			return sdk.Acked(), nil
		}}
		q := newQueue(t, db, clk, rec.deliver)
		for i := range int64(3) {
			mustEnqueue(t, db, event(i+1, 10, t0.Add(time.Duration(i)*time.Minute)), "crm")
		}
		drain(t, q)
		wantStates(t, q, "crm", "1:failed", "2:failed", "3:failed")

		// Nothing unfinished: pending.
		if n, err := q.Replay(ctx, "crm", view(t, q, "crm", 3).ID); err != nil || n != 1 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		wantStates(t, q, "crm", "1:failed", "2:failed", "3:pending")

		// Behind a head: blocked, and next when the head ends, before
		// events enqueued after it.
		mustEnqueue(t, db, event(4, 10, t0), "crm")
		if n, err := q.Replay(ctx, "crm", view(t, q, "crm", 1).ID); err != nil || n != 1 {
			t.Fatalf("replay: %d, %v", n, err)
		}
		wantStates(t, q, "crm", "1:blocked", "2:failed", "3:pending", "4:blocked")
		checkHeads(t, db)
		rec.reset()
		drain(t, q)
		if got, want := rec.events(), []string{"crm/3#2", "crm/1#2", "crm/4#1"}; !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}

		// A range with two of one session: the first pending, the other
		// blocked behind it.
		for i := range int64(2) {
			mustEnqueue(t, db, event(5+i, 20, t0.Add(time.Hour)), "crm")
		}
		if _, err := db.NewRaw(`UPDATE plugin_deliveries SET state = 'failed' WHERE event_id IN (5, 6)`).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := q.ReplayRange(ctx, "crm", t0, t0.Add(2*time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("replay range: %d, %v", n, err)
		}
		wantStates(t, q, "crm", "1:delivered", "2:pending", "3:delivered", "4:delivered", "5:pending", "6:blocked")
		checkHeads(t, db)
		rec.reset()
		drain(t, q)
		if got := rec.events(); !slices.Equal(sorted(got), []string{"crm/2#2", "crm/5#1", "crm/6#1"}) ||
			slices.Index(got, "crm/5#1") > slices.Index(got, "crm/6#1") {
			t.Fatalf("delivered %v", got)
		}
	})
}

// TestRaceTwoPending simulates two transactions enqueueing for one session
// at once, each seeing nothing unfinished: two pending deliveries. The
// claim takes neither while both are there, repair blocks the later one,
// and they go in order.
func TestRaceTwoPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{}
		q := newQueue(t, db, clk, rec.deliver)
		insertRow(t, db, "crm", 1, 10, Pending, t0)
		insertRow(t, db, "crm", 2, 10, Pending, t0)
		mustEnqueue(t, db, event(3, 11, t0), "crm")
		cs, err := q.claim(ctx, "crm", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].EventID != 3 {
			t.Fatalf("claimed %+v, want only event 3", cs)
		}
		if blocked, promoted, err := q.repair(ctx); err != nil || blocked != 1 || promoted != 0 {
			t.Fatalf("repair: %d blocked, %d promoted, %v", blocked, promoted, err)
		}
		wantStates(t, q, "crm", "1:pending", "2:blocked", "3:running")
		if blocked, promoted, err := q.repair(ctx); err != nil || blocked+promoted != 0 {
			t.Fatalf("second repair: %d blocked, %d promoted, %v", blocked, promoted, err)
		}
		drain(t, q)
		if got, want := rec.events(), []string{"crm/1#1", "crm/2#1"}; !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}

		// The earlier one retrying, the later one due: still neither.
		rec.reset()
		rec.setAnswer(func(d Delivery) (sdk.Result, error) {
			if d.EventID == 4 && d.Attempt == 1 {
				return sdk.RetryLater(time.Minute, "busy"), nil
			}
			return sdk.Acked(), nil
		})
		insertRow(t, db, "crm", 4, 30, Pending, t0)
		drain(t, q)
		insertRow(t, db, "crm", 5, 30, Pending, t0) // raced the retry
		if n := drain(t, q); n != 0 {
			t.Fatalf("delivered %d while event 4 of the session waits for its retry", n)
		}
		// ... or one running and one pending.
		clk.Advance(time.Minute)
		cs, err = q.claim(ctx, "crm", 10)
		if err != nil || len(cs) != 0 {
			t.Fatalf("claimed %d with two pending, %v", len(cs), err)
		}
		if _, _, err := q.repair(ctx); err != nil {
			t.Fatal(err)
		}
		cs, err = q.claim(ctx, "crm", 10)
		if err != nil || len(cs) != 1 || cs[0].EventID != 4 {
			t.Fatalf("claimed %+v, %v; want event 4", cs, err)
		}
		insertRow(t, db, "crm", 6, 30, Pending, t0) // raced the claim
		if more, err := q.claim(ctx, "crm", 10); err != nil || len(more) != 0 {
			t.Fatalf("claimed %d while event 4 runs, %v", len(more), err)
		}
		if blocked, _, err := q.repair(ctx); err != nil || blocked != 1 {
			t.Fatalf("repair blocked %d, %v", blocked, err)
		}
		if err := q.record(ctx, []result{q.attempt(ctx, cs[0])}); err != nil {
			t.Fatal(err)
		}
		drain(t, q)
		if got, want := rec.events(), []string{"crm/4#1", "crm/4#2", "crm/5#1", "crm/6#1"}; !slices.Equal(got, want) {
			t.Fatalf("delivered %v, want %v", got, want)
		}
		checkHeads(t, db)
	})
}

// TestRaceBlockedWithoutHead simulates an enqueue that saw the head
// running and committed its blocked delivery after the head's end was
// recorded: repair promotes it.
func TestRaceBlockedWithoutHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := clocktest.New(t0)
		rec := &recorder{}
		q := newQueue(t, db, clk, rec.deliver)
		mustEnqueue(t, db, event(1, 10, t0), "crm")
		drain(t, q)
		insertRow(t, db, "crm", 2, 10, Blocked, t0)
		insertRow(t, db, "crm", 3, 10, Blocked, t0)
		insertRow(t, db, "crm", 4, 11, Blocked, t0) // and one with nothing before it at all
		if n := drain(t, q); n != 0 {
			t.Fatalf("delivered %d blocked deliveries", n)
		}
		clk.Advance(time.Second)
		if blocked, promoted, err := q.repair(ctx); err != nil || blocked != 0 || promoted != 2 {
			t.Fatalf("repair: %d blocked, %d promoted, %v", blocked, promoted, err)
		}
		wantStates(t, q, "crm", "1:delivered", "2:pending", "3:blocked", "4:pending")
		if v := view(t, q, "crm", 2); !v.NextAt.Equal(clk.Now()) {
			t.Fatalf("promoted delivery due at %s, want now", v.NextAt)
		}
		checkHeads(t, db)
		drain(t, q)
		if got := rec.events(); !slices.Equal(got, []string{"crm/1#1", "crm/2#1", "crm/4#1", "crm/3#1"}) &&
			!slices.Equal(got, []string{"crm/1#1", "crm/4#1", "crm/2#1", "crm/3#1"}) {
			t.Fatalf("delivered %v", got)
		}
	})
}

// TestRepairInRun: a running queue repairs on its poll ticker, without
// being woken.
func TestRepairInRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		rec := &recorder{}
		q := newQueue(t, db, nil, rec.deliver, func(c *Config) { c.PollInterval = 20 * time.Millisecond })
		runQueue(t, q)
		insertRow(t, db, "crm", 1, 10, Blocked, time.Now())
		insertRow(t, db, "crm", 2, 10, Blocked, time.Now())
		waitFor(t, "the blocked deliveries", func() bool { return len(rec.all()) == 2 })
		if got := rec.events(); !slices.Equal(got, []string{"crm/1#1", "crm/2#1"}) {
			t.Fatalf("delivered %v", got)
		}
	})
}

// TestIdleRepairIsCheap: with no unfinished delivery, a running queue
// only checks for one every poll, instead of repairing every 25 ms; a
// broken session that appears meanwhile is still repaired within a poll.
func TestIdleRepairIsCheap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		rec := &recorder{}
		q := newQueue(t, db, nil, rec.deliver) // the default poll, 250 ms
		statements := storetest.CountStatements(db)
		runQueue(t, q)
		time.Sleep(time.Second)
		// A second of polls (4 claims' scans, 4 checks for unfinished
		// deliveries, a lease check) and start-up; the repair alone ran
		// 80 statements a second before.
		if n := statements(); n > 20 {
			t.Fatalf("an idle queue ran %d statements in a second", n)
		}
		insertRow(t, db, "crm", 1, 10, Blocked, time.Now())
		waitFor(t, "the blocked delivery", func() bool { return len(rec.all()) == 1 })
	})
}

// TestRealRacesOnPostgres runs both races with real concurrent
// transactions (PostgreSQL only: SQLite takes its write lock at BEGIN, so
// there the second transaction waits for the first and the race cannot
// happen).
func TestRealRacesOnPostgres(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	clk := clocktest.New(t0)
	rec := &recorder{}
	q := newQueue(t, db, clk, rec.deliver)

	// Two enqueueing transactions for one session, neither committed when
	// the other checks.
	tx1, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tx2, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Enqueue(ctx, tx1, event(1, 10, t0), []string{"crm"}); err != nil {
		t.Fatal(err)
	}
	if err := Enqueue(ctx, tx2, event(2, 10, t0), []string{"crm"}); err != nil {
		t.Fatal(err)
	}
	if err := tx1.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx2.Commit(); err != nil {
		t.Fatal(err)
	}
	wantStates(t, q, "crm", "1:pending", "2:pending")
	if n := drain(t, q); n != 0 {
		t.Fatalf("delivered %d with two pending in one session", n)
	}
	if _, _, err := q.repair(ctx); err != nil {
		t.Fatal(err)
	}
	drain(t, q)
	if got := rec.events(); !slices.Equal(got, []string{"crm/1#1", "crm/2#1"}) {
		t.Fatalf("delivered %v", got)
	}

	// An enqueue that sees the head running, committed after the head's
	// end was recorded: a running head does not block it, so it is pending
	// and goes as soon as the head's end is recorded.
	rec.reset()
	mustEnqueue(t, db, event(3, 10, t0), "crm")
	cs, err := q.claim(ctx, "crm", 5)
	if err != nil || len(cs) != 1 {
		t.Fatal(len(cs), err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Enqueue(ctx, tx, event(4, 10, t0), []string{"crm"}); err != nil {
		t.Fatal(err)
	}
	if err := q.record(ctx, []result{q.attempt(ctx, cs[0])}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wantStates(t, q, "crm", "1:delivered", "2:delivered", "3:delivered", "4:pending")
	drain(t, q)
	if got := rec.events(); !slices.Equal(got, []string{"crm/3#1", "crm/4#1"}) {
		t.Fatalf("delivered %v", got)
	}
	checkHeads(t, db)
}
