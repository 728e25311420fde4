package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/store/storetest"
)

// Timer kinds for these tests; the sessions service names its own.
const (
	TimerConnecting   = "connecting"
	TimerWaiting      = "waiting"
	TimerIdle         = "idle"
	TimerAutoTransfer = "auto_transfer"
)

// firings records what a FireFunc was called with.
type firings struct {
	mu    sync.Mutex
	calls map[string]int
	total int
	err   func(call int) error // nil: always succeed
}

func (f *firings) fire(_ context.Context, sessionID int64, kind string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[fmt.Sprintf("%d/%s", sessionID, kind)]++
	f.total++
	if f.err != nil {
		return f.err(f.total)
	}
	return nil
}

func (f *firings) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func (f *firings) sum() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total
}

func newTimers(db *bun.DB, clk *clocktest.Clock) *Timers { return &Timers{DB: db, Now: clk.Now} }

func mustSweep(t *testing.T, tm *Timers, fire FireFunc) int {
	t.Helper()
	n, err := tm.sweep(context.Background(), fire)
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	return n
}

func mustSchedule(t *testing.T, tm *Timers, sessionID int64, kind string, due time.Time) {
	t.Helper()
	if err := tm.Schedule(context.Background(), nil, sessionID, kind, due); err != nil {
		t.Fatal(err)
	}
}

func mustDue(t *testing.T, tm *Timers) []Timer {
	t.Helper()
	due, err := tm.Due(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return due
}

func TestTimersFireOnTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := newClock()
		tm := newTimers(db, clk)
		addSession(t, db, 1)
		addSession(t, db, 2)
		t0 := clk.Now()
		mustSchedule(t, tm, 1, TimerWaiting, t0.Add(10*time.Second))
		mustSchedule(t, tm, 2, TimerConnecting, t0.Add(20*time.Second))
		mustSchedule(t, tm, 1, TimerAutoTransfer, t0.Add(15*time.Second))

		due := mustDue(t, tm)
		if len(due) != 3 || due[0].Kind != TimerWaiting || due[1].Kind != TimerAutoTransfer || due[2].SessionID != 2 ||
			!due[0].DueAt.Equal(t0.Add(10*time.Second)) || due[0].FiredAt != nil {
			t.Fatalf("Due = %+v", due)
		}

		var f firings
		if n := mustSweep(t, tm, f.fire); n != 0 {
			t.Fatalf("fired %d before due", n)
		}
		clk.Advance(9*time.Second + 999*time.Millisecond)
		if n := mustSweep(t, tm, f.fire); n != 0 {
			t.Fatalf("fired %d a millisecond early", n)
		}
		clk.Advance(time.Millisecond)
		if n := mustSweep(t, tm, f.fire); n != 1 || f.count("1/waiting") != 1 {
			t.Fatalf("at due: fired %d, calls %v", n, f.calls)
		}
		if n := mustSweep(t, tm, f.fire); n != 0 {
			t.Fatalf("fired again: %d", n)
		}
		clk.Advance(time.Hour)
		if n := mustSweep(t, tm, f.fire); n != 2 || f.count("1/auto_transfer") != 1 || f.count("2/connecting") != 1 {
			t.Fatalf("late sweep: fired %d, calls %v", n, f.calls)
		}
		if due := mustDue(t, tm); len(due) != 0 {
			t.Fatalf("pending after firing: %+v", due)
		}
	})
}

func TestTimersRunWakeAndStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := newClock()
		tm := newTimers(db, clk)
		tm.PollInterval = time.Hour // only Wake can make it look
		addSession(t, db, 1)
		var f firings
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { tm.Run(ctx, f.fire); close(done) }()

		mustSchedule(t, tm, 1, TimerIdle, clk.Now())
		tm.Wake()
		eventually(t, "the woken sweeper to fire", func() bool { return f.count("1/idle") == 1 })

		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

// WakeIfSoon wakes the sweeper only for a timer due before the next poll:
// a state change that armed nothing urgent costs no sweep.
func TestTimersWakeIfSoon(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := newClock()
		tm := newTimers(db, clk)
		tm.PollInterval = time.Hour // only a wake can make it look
		addSession(t, db, 1)
		addSession(t, db, 2)
		var f firings
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go tm.Run(ctx, f.fire)

		// Due in two hours: no wake is owed.
		mustSchedule(t, tm, 1, TimerIdle, clk.Now().Add(2*time.Hour))
		if tm.soon.Load() {
			t.Fatal("a timer due after the next poll asks for a wake")
		}

		// Due now: the next WakeIfSoon wakes it, and the timer fires.
		mustSchedule(t, tm, 2, TimerIdle, clk.Now())
		if !tm.soon.Load() {
			t.Fatal("a timer due before the next poll does not ask for a wake")
		}
		tm.WakeIfSoon()
		if tm.soon.Load() {
			t.Fatal("WakeIfSoon did not take the wake it was owed")
		}
		eventually(t, "the woken sweeper to fire", func() bool { return f.count("2/idle") == 1 })
		if f.count("1/idle") != 0 {
			t.Fatalf("a timer fired before it was due: %v", f.calls)
		}
	})
}

// A new Timers on the same database (a restarted hub) fires what the old
// one scheduled; a timer scheduled in a rolled-back transaction never exists.
func TestTimersSurviveRestartAndFollowTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		before := newTimers(db, clk)
		addSession(t, db, 1)
		addSession(t, db, 2)
		addSession(t, db, 3)
		mustSchedule(t, before, 1, TimerWaiting, clk.Now().Add(time.Minute))

		err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return before.Schedule(ctx, tx, 2, TimerWaiting, clk.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		rollback := errors.New("rollback")
		err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := before.Schedule(ctx, tx, 3, TimerWaiting, clk.Now()); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatal(err)
		}

		after := &Timers{DB: db, Now: clk.Now} // the "restarted" process
		clk.Advance(2 * time.Minute)
		var f firings
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		after.PollInterval = time.Millisecond
		go after.Run(ctx, f.fire)
		eventually(t, "the restarted sweeper to fire both", func() bool { return f.sum() == 2 })
		if f.count("1/waiting") != 1 || f.count("2/waiting") != 1 || f.count("3/waiting") != 0 {
			t.Fatalf("calls %v", f.calls)
		}
	})
}

func TestTimersConcurrentSweepersFireEachOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := newClock()
		const sessions = 30
		kinds := []string{TimerWaiting, TimerAutoTransfer}
		seed := newTimers(db, clk)
		for id := int64(1); id <= sessions; id++ {
			addSession(t, db, id)
			for i, k := range kinds {
				mustSchedule(t, seed, id, k, clk.Now().Add(time.Duration(id%5+int64(i))*time.Millisecond))
			}
		}
		clk.Advance(time.Second)

		var f firings
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range 4 { // four hub nodes
			node := &Timers{DB: db, Now: clk.Now, PollInterval: time.Millisecond}
			wg.Go(func() { node.Run(ctx, f.fire) })
		}
		want := sessions * len(kinds)
		eventually(t, "every timer to fire", func() bool { return f.sum() >= want })
		// Let the sweepers go round a few more times before counting.
		for range 3 {
			mustSweep(t, newTimers(db, clk), f.fire)
		}
		cancel()
		wg.Wait()
		if f.sum() != want {
			t.Errorf("fired %d times, want %d", f.sum(), want)
		}
		for id := int64(1); id <= sessions; id++ {
			for _, k := range kinds {
				if n := f.count(fmt.Sprintf("%d/%s", id, k)); n != 1 {
					t.Errorf("session %d %s fired %d times", id, k, n)
				}
			}
		}
	})
}

func TestTimersRescheduleAndCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		tm := newTimers(db, clk)
		for id := int64(1); id <= 3; id++ {
			addSession(t, db, id)
		}
		t0 := clk.Now()
		var f firings

		// Re-scheduling moves the due time, later or earlier.
		mustSchedule(t, tm, 1, TimerWaiting, t0.Add(10*time.Second))
		mustSchedule(t, tm, 1, TimerWaiting, t0.Add(time.Minute))
		mustSchedule(t, tm, 2, TimerWaiting, t0.Add(time.Hour))
		mustSchedule(t, tm, 2, TimerWaiting, t0.Add(5*time.Second))
		if due := mustDue(t, tm); len(due) != 2 {
			t.Fatalf("one timer per session and kind, got %+v", due)
		}
		clk.Advance(10 * time.Second)
		mustSweep(t, tm, f.fire)
		if f.count("1/waiting") != 0 || f.count("2/waiting") != 1 {
			t.Fatalf("after 10s: %v", f.calls)
		}
		clk.Advance(50 * time.Second)
		mustSweep(t, tm, f.fire)
		if f.count("1/waiting") != 1 {
			t.Fatalf("after 60s: %v", f.calls)
		}

		// A fired timer can be armed again.
		mustSchedule(t, tm, 1, TimerWaiting, clk.Now().Add(time.Second))
		clk.Advance(time.Second)
		mustSweep(t, tm, f.fire)
		if f.count("1/waiting") != 2 {
			t.Fatalf("re-armed: %v", f.calls)
		}

		// Cancel one kind; CancelAll every kind of one session only.
		mustSchedule(t, tm, 3, TimerWaiting, clk.Now())
		mustSchedule(t, tm, 3, TimerIdle, clk.Now())
		mustSchedule(t, tm, 3, TimerAutoTransfer, clk.Now())
		mustSchedule(t, tm, 2, TimerIdle, clk.Now())
		if err := tm.Cancel(ctx, nil, 3, TimerIdle); err != nil {
			t.Fatal(err)
		}
		if err := tm.Cancel(ctx, nil, 3, "never scheduled"); err != nil {
			t.Fatal(err)
		}
		if due := mustDue(t, tm); len(due) != 3 {
			t.Fatalf("after cancel: %+v", due)
		}
		if err := tm.CancelAll(ctx, db, 3); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		mustSweep(t, tm, f.fire)
		if f.count("3/waiting")+f.count("3/idle")+f.count("3/auto_transfer") != 0 || f.count("2/idle") != 1 {
			t.Fatalf("after cancel all: %v", f.calls)
		}

		// Deleting the session deletes its timers.
		mustSchedule(t, tm, 1, TimerIdle, clk.Now().Add(time.Hour))
		if _, err := db.NewRaw("DELETE FROM sessions WHERE id = 1").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if due := mustDue(t, tm); len(due) != 0 {
			t.Fatalf("after session delete: %+v", due)
		}

		if err := tm.Schedule(ctx, nil, 404, TimerIdle, clk.Now()); err == nil {
			t.Error("scheduling for a missing session succeeded")
		}
		if err := tm.Schedule(ctx, nil, 2, "", clk.Now()); err == nil {
			t.Error("scheduling an empty kind succeeded")
		}
	})
}

func TestTimersRetryWithBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clk := newClock()
		tm := newTimers(db, clk)
		addSession(t, db, 1)
		f := firings{err: func(call int) error {
			if call <= 3 {
				return fmt.Errorf("boom %d", call)
			}
			return nil
		}}
		mustSchedule(t, tm, 1, TimerAutoTransfer, clk.Now())

		for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			mustSweep(t, tm, f.fire)
			due := mustDue(t, tm)
			if len(due) != 1 {
				t.Fatalf("attempt %d: failed timer not pending: %+v", attempt+1, due)
			}
			got := due[0]
			if got.Attempts != attempt+1 || got.LastError != fmt.Sprintf("boom %d", attempt+1) || !got.DueAt.Equal(clk.Now().Add(wait)) {
				t.Fatalf("attempt %d: %+v, want due in %v", attempt+1, got, wait)
			}
			mustSweep(t, tm, f.fire) // not due yet
			if f.sum() != attempt+1 {
				t.Fatalf("retried before the backoff: %d calls", f.sum())
			}
			clk.Advance(wait)
		}
		mustSweep(t, tm, f.fire)
		if f.sum() != 4 || len(mustDue(t, tm)) != 0 {
			t.Fatalf("after success: %d calls, pending %+v", f.sum(), mustDue(t, tm))
		}

		// Re-arming clears attempts and the last error.
		f.err = func(int) error { return errors.New("again") }
		mustSchedule(t, tm, 1, TimerAutoTransfer, clk.Now())
		mustSweep(t, tm, f.fire)
		mustSchedule(t, tm, 1, TimerAutoTransfer, clk.Now().Add(time.Hour))
		if due := mustDue(t, tm); len(due) != 1 || due[0].Attempts != 0 || due[0].LastError != "" {
			t.Fatalf("after re-arm: %+v", due)
		}
	})
}

// What happens to a timer whose firing fails while it is changed: a panic
// is a failure; a cancel or re-schedule made during the firing stands.
func TestTimersFailingFireEdgeCases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		tm := newTimers(db, clk)
		for id := int64(1); id <= 4; id++ {
			addSession(t, db, id)
			mustSchedule(t, tm, id, TimerWaiting, clk.Now())
		}
		later := clk.Now().Add(time.Hour)
		stop, cancelRun := context.WithCancel(ctx)
		defer cancelRun()
		fire := func(ctx context.Context, id int64, kind string) error {
			switch id {
			case 1:
				panic("handler bug")
			case 2:
				if err := tm.Cancel(ctx, nil, id, kind); err != nil {
					return err
				}
				return errors.New("failed after cancel")
			case 3:
				if err := tm.Schedule(ctx, nil, id, kind, later); err != nil {
					return err
				}
				return errors.New("failed after re-schedule")
			default:
				cancelRun() // shutting down mid-firing
				return stop.Err()
			}
		}
		if _, err := tm.sweep(stop, fire); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		byID := map[int64]Timer{}
		for _, d := range mustDue(t, tm) {
			byID[d.SessionID] = d
		}
		if d, ok := byID[1]; !ok || d.Attempts != 1 || d.LastError != "panic: handler bug" {
			t.Errorf("panicking fire: %+v", d)
		}
		if _, ok := byID[2]; ok {
			t.Errorf("cancelled during firing came back: %+v", byID[2])
		}
		if d, ok := byID[3]; !ok || d.Attempts != 0 || d.LastError != "" || !d.DueAt.Equal(later) {
			t.Errorf("re-scheduled during firing: %+v", d)
		}
		if d, ok := byID[4]; !ok || d.Attempts != 0 || d.LastError != "" || !d.DueAt.Equal(clk.Now()) {
			t.Errorf("interrupted by shutdown must be handed back untouched: %+v", d)
		}
	})
}

func TestBackoff(t *testing.T) {
	for attempts, want := range map[int]time.Duration{
		0: time.Second, 1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second,
		7: time.Minute, 8: time.Minute, 1000: time.Minute,
	} {
		if got := Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}
