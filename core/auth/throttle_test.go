package auth

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store/storetest"
)

var (
	ipA = netip.MustParseAddr("203.0.113.1")
	ipB = netip.MustParseAddr("198.51.100.2")
)

func newThrottle(db *bun.DB, clock *clocktest.Clock) *Throttle {
	return &Throttle{DB: db, Limits: DefaultThrottleLimits(), Now: clock.Now}
}

// fail runs one failed attempt and fails the test if it was throttled.
func fail(t *testing.T, th *Throttle, email string, ip netip.Addr) {
	t.Helper()
	a, err := th.Begin(context.Background(), email, ip)
	if err != nil {
		t.Fatalf("Begin(%s, %s): %v", email, ip, err)
	}
	if err := th.Fail(context.Background(), a, 0, ReasonWrongPass); err != nil {
		t.Fatal(err)
	}
}

// refused checks that Begin is throttled and returns the retry delay.
func refused(t *testing.T, th *Throttle, email string, ip netip.Addr) int {
	t.Helper()
	_, err := th.Begin(context.Background(), email, ip)
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.TooMany || fe.Code != "too_many_attempts" {
		t.Fatalf("Begin(%s, %s) = %v, want TooMany too_many_attempts", email, ip, err)
	}
	return fe.RetryAfterSeconds
}

func TestThrottleDefaults(t *testing.T) {
	if got := DefaultThrottleLimits(); got != (ThrottleLimits{Window: 15 * time.Minute, PerEmail: 5, PerIP: 30}) {
		t.Fatalf("DefaultThrottleLimits = %+v", got)
	}
}

func TestThrottlePerEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		clock := newClock()
		th := newThrottle(db, clock)
		for i := range 5 {
			fail(t, th, "ann@example.com", netip.MustParseAddr(fmt.Sprintf("10.0.0.%d", i+1)))
			clock.Advance(time.Minute)
		}
		// 5 failures at T0..T0+4m; now T0+5m: the oldest leaves at T0+15m.
		if got := refused(t, th, "ann@example.com", ipA); got != 600 {
			t.Errorf("RetryAfterSeconds = %d, want 600", got)
		}
		if got := refused(t, th, " ANN@Example.com", ipB); got != 600 {
			t.Errorf("differently cased email: RetryAfterSeconds = %d, want 600", got)
		}
		// Throttled attempts are not failures: they neither extend the lock nor count.
		clock.Advance(10*time.Minute - 1500*time.Millisecond)
		if got := refused(t, th, "ann@example.com", ipA); got != 2 {
			t.Errorf("1.5 s before unlock: RetryAfterSeconds = %d, want 2 (rounded up)", got)
		}
		if _, err := th.Begin(context.Background(), "bob@example.com", ipA); err != nil {
			t.Errorf("another account from the same address: %v", err)
		}
		clock.Advance(1500 * time.Millisecond) // T0+15m: the first failure has left
		if _, err := th.Begin(context.Background(), "ann@example.com", ipA); err != nil {
			t.Fatalf("after the window: %v", err)
		}
		// That attempt is still pending, so it counts: 4 old + 1 pending = 5.
		if got := refused(t, th, "ann@example.com", ipA); got != 60 {
			t.Errorf("with a pending attempt: RetryAfterSeconds = %d, want 60", got)
		}
	})
}

func TestThrottlePerIP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		th := newThrottle(db, clock)
		for i := range 29 {
			fail(t, th, fmt.Sprintf("victim%d@example.com", i), ipA)
			clock.Advance(10 * time.Second)
		}
		// A success from the same address (the attacker's own account) must not clear the count.
		insertMember(t, db, 20, "mallory@example.com")
		a, err := th.Begin(ctx, "mallory@example.com", ipA)
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Succeed(ctx, a, 20); err != nil {
			t.Fatal(err)
		}
		fail(t, th, "victim29@example.com", ipA) // the 30th failure
		// The first failure was at T0, now is T0+290s.
		if got := refused(t, th, "fresh@example.com", ipA); got != 15*60-290 {
			t.Errorf("RetryAfterSeconds = %d, want %d", got, 15*60-290)
		}
		// The IPv4-mapped form is the same address.
		refused(t, th, "fresh@example.com", netip.MustParseAddr("::ffff:203.0.113.1"))
		if _, err := th.Begin(ctx, "fresh@example.com", ipB); err != nil {
			t.Errorf("another address: %v", err)
		}
	})
}

func TestThrottleSuccessResetsTheAccountCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		clock := newClock()
		th := newThrottle(db, clock)
		for range 4 {
			fail(t, th, "ann@example.com", ipA)
			clock.Advance(time.Second)
		}
		a, err := th.Begin(ctx, "ann@example.com", ipA)
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Succeed(ctx, a, 10); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
		first := clock.Now()
		for range 5 { // would be 9 in the window without the reset
			fail(t, th, "ann@example.com", ipA)
			clock.Advance(time.Second)
		}
		// Locked again; the retry counts from the first failure after the success.
		want := int(first.Add(15 * time.Minute).Sub(clock.Now()).Seconds())
		if got := refused(t, th, "ann@example.com", ipA); got != want {
			t.Errorf("RetryAfterSeconds = %d, want %d", got, want)
		}
	})
}

func TestThrottleIgnoresOwnErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		th := newThrottle(db, newClock())
		for range 10 {
			a, err := th.Begin(ctx, "ann@example.com", ipA)
			if err != nil {
				t.Fatalf("attempt after internal errors was refused: %v", err)
			}
			if err := th.Fail(ctx, a, 0, ReasonError); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestThrottleParallelGuesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		th := newThrottle(db, newClock())
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := th.Begin(context.Background(), "ann@example.com", netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}))
				if err != nil && !fault.IsKind(err, fault.TooMany) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if passed < 1 || passed > 5 {
			t.Fatalf("%d of 20 parallel attempts passed, want between 1 and 5", passed)
		}
	})
}

func TestThrottleRecordsAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		clock := newClock()
		th := &Throttle{DB: db, Limits: ThrottleLimits{Window: time.Minute, PerEmail: 1, PerIP: 0}, Now: clock.Now}
		a, _ := th.Begin(ctx, " Ann@Example.COM", netip.MustParseAddr("::ffff:5.5.5.5"))
		if err := th.Fail(ctx, a, 10, ReasonWrongPass); err != nil {
			t.Fatal(err)
		}
		n, err := th.Begin(ctx, "nobody@example.com", netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Fail(ctx, n, 0, ReasonUnknownEmail); err != nil {
			t.Fatal(err)
		}
		refused(t, th, "ann@example.com", ipB)
		clock.Advance(time.Minute)
		b, err := th.Begin(ctx, "ann@example.com", ipB)
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Succeed(ctx, b, 10); err != nil {
			t.Fatal(err)
		}

		type row struct {
			Email    string
			MemberID *int64
			IP       string
			Success  bool
			Reason   string
			At       time.Time
		}
		var rows []row
		if err := db.NewRaw("SELECT email, member_id, ip, success, reason, at FROM sign_in_attempts ORDER BY id").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		t0 := newClock().Now().Truncate(time.Microsecond)
		ten := int64(10)
		want := []row{
			{"ann@example.com", &ten, "5.5.5.5", false, ReasonWrongPass, t0},
			{"nobody@example.com", nil, "", false, ReasonUnknownEmail, t0},
			{"ann@example.com", nil, "198.51.100.2", false, ReasonThrottled, t0},
			{"ann@example.com", &ten, "198.51.100.2", true, ReasonSignedIn, t0.Add(time.Minute)},
		}
		if len(rows) != len(want) {
			t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
		}
		for i, w := range want {
			g := rows[i]
			if g.Email != w.Email || (g.MemberID == nil) != (w.MemberID == nil) || (g.MemberID != nil && *g.MemberID != *w.MemberID) ||
				g.IP != w.IP || g.Success != w.Success || g.Reason != w.Reason || !g.At.Equal(w.At) {
				t.Errorf("row %d = %+v (member %v), want %+v (member %v)", i, g, deref(g.MemberID), w, deref(w.MemberID))
			}
		}
	})
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestThrottlePruneKeepsWhatCounts: pruning deletes only failures past the
// window; the failures still in it keep refusing, and sign-ins stay.
func TestThrottlePruneKeepsWhatCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		th := newThrottle(db, clock)
		for i := range 3 {
			fail(t, th, fmt.Sprintf("old%d@example.com", i), ipB)
		}
		insertMember(t, db, 21, "sue@example.com")
		a, err := th.Begin(ctx, "sue@example.com", ipB)
		if err != nil {
			t.Fatal(err)
		}
		if err := th.Succeed(ctx, a, 21); err != nil {
			t.Fatal(err)
		}
		clock.Advance(15 * time.Minute) // those four are now at the window's edge
		for range 5 {
			fail(t, th, "ann@example.com", ipA)
			clock.Advance(time.Second)
		}
		if n, err := th.Prune(ctx); err != nil || n != 3 {
			t.Fatalf("pruned %d (%v), want the 3 failures past the window", n, err)
		}
		// Left: the 5 failures in the window and the old success (a sign-in
		// the login report lists).
		if n, err := db.NewSelect().Table("sign_in_attempts").Count(ctx); err != nil || n != 6 {
			t.Fatalf("%d attempts left (%v), want 6", n, err)
		}
		if n, err := db.NewSelect().Table("sign_in_attempts").Where("success").Count(ctx); err != nil || n != 1 {
			t.Fatalf("%d successful sign-ins left (%v), want 1", n, err)
		}
		if got := refused(t, th, "ann@example.com", ipB); got != 15*60-5 {
			t.Errorf("after pruning: RetryAfterSeconds = %d, want %d", got, 15*60-5)
		}
		if n, err := th.Prune(ctx); err != nil || n != 0 {
			t.Fatalf("second prune took %d (%v), want none", n, err)
		}
	})
}
