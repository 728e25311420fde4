package queue

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestPresenceStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		p := &Presence{DB: db, Now: clk.Now}
		addNode(t, db, 1, "technician")
		t0 := clk.Now()

		row, err := p.Get(ctx, 1)
		if err != nil || row.ChosenStatus != StatusOffline || row.SignedInAt != nil || !row.IdleSince().IsZero() {
			t.Fatalf("never seen: %+v, %v", row, err)
		}

		// Going online from offline signs in.
		if err := p.SetStatus(ctx, 1, StatusOnline); err != nil {
			t.Fatal(err)
		}
		row = mustGet(t, p, 1)
		if row.ChosenStatus != StatusOnline || !eqTime(row.SignedInAt, t0) || !eqTime(row.LastActivityAt, t0) || !row.UpdatedAt.Equal(t0) {
			t.Fatalf("after online: %+v", row)
		}

		// online -> busy is not a new sign-in, but is an action.
		clk.Advance(10 * time.Minute)
		if err := p.SetStatus(ctx, 1, StatusBusy); err != nil {
			t.Fatal(err)
		}
		row = mustGet(t, p, 1)
		if row.ChosenStatus != StatusBusy || !eqTime(row.SignedInAt, t0) || !eqTime(row.LastActivityAt, t0.Add(10*time.Minute)) {
			t.Fatalf("after busy: %+v", row)
		}

		clk.Advance(time.Minute)
		if err := p.Activity(ctx, 1); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if err := p.SessionEnded(ctx, 1); err != nil {
			t.Fatal(err)
		}
		row = mustGet(t, p, 1)
		if !eqTime(row.LastActivityAt, t0.Add(11*time.Minute)) || !eqTime(row.LastSessionEndAt, t0.Add(12*time.Minute)) ||
			!row.IdleSince().Equal(t0.Add(12*time.Minute)) || row.ChosenStatus != StatusBusy {
			t.Fatalf("after activity and session end: %+v", row)
		}

		// Offline, then away: leaving offline signs in again.
		clk.Advance(time.Hour)
		if err := p.SetStatus(ctx, 1, StatusOffline); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if err := p.SetStatus(ctx, 1, StatusAway); err != nil {
			t.Fatal(err)
		}
		row = mustGet(t, p, 1)
		if row.ChosenStatus != StatusAway || !eqTime(row.SignedInAt, t0.Add(12*time.Minute+2*time.Hour)) {
			t.Fatalf("after offline -> away: %+v", row)
		}

		// SignIn always restamps, even over a stale "online".
		clk.Advance(time.Hour)
		if err := p.SetStatus(ctx, 1, StatusOnline); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if err := p.SignIn(ctx, 1); err != nil {
			t.Fatal(err)
		}
		row = mustGet(t, p, 1)
		if want := clk.Now(); row.ChosenStatus != StatusOnline || !eqTime(row.SignedInAt, want) || !eqTime(row.LastActivityAt, want) {
			t.Fatalf("after sign in: %+v", row)
		}
	})
}

func TestPresenceStoreFirstTouchAndErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		p := &Presence{DB: db, Now: clk.Now}
		addNode(t, db, 2, "technician")
		addNode(t, db, 3, "technician")

		// Activity or a session end before any status makes an offline row.
		if err := p.Activity(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := p.SessionEnded(ctx, 3); err != nil {
			t.Fatal(err)
		}
		for _, id := range []int64{2, 3} {
			if row := mustGet(t, p, id); row.ChosenStatus != StatusOffline || row.SignedInAt != nil {
				t.Errorf("member %d: %+v", id, row)
			}
		}
		// Choosing offline, on a new row or an existing one, does not sign in.
		addNode(t, db, 4, "technician")
		for _, id := range []int64{2, 4} {
			if err := p.SetStatus(ctx, id, StatusOffline); err != nil {
				t.Fatal(err)
			}
			if row := mustGet(t, p, id); row.SignedInAt != nil || row.ChosenStatus != StatusOffline || row.LastActivityAt == nil {
				t.Errorf("member %d offline: %+v", id, row)
			}
		}

		if err := p.SetStatus(ctx, 2, "lunch"); !fault.IsKind(err, fault.Invalid) {
			t.Errorf("unknown status: %v", err)
		}
		for name, call := range map[string]func() error{
			"set status": func() error { return p.SetStatus(ctx, 99, StatusOnline) },
			"sign in":    func() error { return p.SignIn(ctx, 99) },
			"activity":   func() error { return p.Activity(ctx, 99) },
			"ended":      func() error { return p.SessionEnded(ctx, 99) },
		} {
			if err := call(); !fault.IsKind(err, fault.NotFound) {
				t.Errorf("%s for a missing member: %v, want NotFound", name, err)
			}
		}
	})
}

func mustGet(t *testing.T, p *Presence, id int64) PresenceRow {
	t.Helper()
	row, err := p.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func eqTime(p *time.Time, want time.Time) bool { return p != nil && p.Equal(want) }

func TestEffective(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	row := func(s Status, idle time.Duration) PresenceRow {
		return PresenceRow{ChosenStatus: s, SignedInAt: ago(8 * time.Hour), LastActivityAt: ago(idle)}
	}
	cfg := PresenceSettings{MaxActiveSessions: 5, BusyAbove: 2, AwayAfterIdleMinutes: 10, SignOutAfterIdleMinutes: 60}
	never := PresenceSettings{MaxActiveSessions: 5}

	tests := []struct {
		name   string
		row    PresenceRow
		active int
		cfg    PresenceSettings
		want   Status
	}{
		{"online", row(StatusOnline, time.Minute), 0, cfg, StatusOnline},
		{"chosen offline wins over everything", row(StatusOffline, 0), 5, cfg, StatusOffline},
		{"no row is offline", PresenceRow{}, 0, cfg, StatusOffline},
		{"idle past sign-out", row(StatusOnline, 60*time.Minute), 0, cfg, StatusOffline},
		{"idle past sign-out even when busy", row(StatusBusy, 2*time.Hour), 4, cfg, StatusOffline},
		{"idle past away", row(StatusOnline, 10*time.Minute), 0, cfg, StatusAway},
		{"idle past away beats busy", row(StatusBusy, 30*time.Minute), 4, cfg, StatusAway},
		{"just under away", row(StatusOnline, 10*time.Minute-time.Second), 0, cfg, StatusOnline},
		{"chosen away", row(StatusAway, 0), 0, cfg, StatusAway},
		{"chosen away with many sessions", row(StatusAway, 0), 4, cfg, StatusAway},
		{"chosen busy", row(StatusBusy, 0), 0, cfg, StatusBusy},
		{"at busy_above is not busy", row(StatusOnline, 0), 2, cfg, StatusOnline},
		{"above busy_above is busy", row(StatusOnline, 0), 3, cfg, StatusBusy},
		{"busy_above 0 never makes busy", row(StatusOnline, 0), 5, never, StatusOnline},
		{"0 idle limits never time out", row(StatusOnline, 48*time.Hour), 0, never, StatusOnline},
		{"a recent session end counts as not idle", PresenceRow{ChosenStatus: StatusOnline, SignedInAt: ago(8 * time.Hour),
			LastActivityAt: ago(2 * time.Hour), LastSessionEndAt: ago(time.Minute)}, 0, cfg, StatusOnline},
		{"sign-in counts as not idle", PresenceRow{ChosenStatus: StatusOnline, SignedInAt: ago(time.Minute)}, 0, cfg, StatusOnline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Effective(tt.row, tt.active, tt.cfg, now); got != tt.want {
				t.Errorf("Effective = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCanPickUpAndAcceptsTransfers(t *testing.T) {
	cfg := PresenceSettings{MaxActiveSessions: 3}
	for active, want := range map[int]bool{0: true, 2: true, 3: false, 4: false} {
		if got := CanPickUp(active, cfg); got != want {
			t.Errorf("CanPickUp(%d) = %v, want %v", active, got, want)
		}
	}
	for s, want := range map[Status]bool{StatusOnline: true, StatusBusy: false, StatusAway: false, StatusOffline: false} {
		if got := AcceptsTransfers(s); got != want {
			t.Errorf("AcceptsTransfers(%s) = %v, want %v", s, got, want)
		}
	}
}

// TestActivityEvery: with ActivityEvery set, a technician's activity is
// written at most that often; other technicians are not held back.
func TestActivityEvery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clk := newClock()
		p := &Presence{DB: db, Now: clk.Now, ActivityEvery: time.Second}
		addNode(t, db, 1, "technician")
		addNode(t, db, 2, "technician")
		t0 := clk.Now()
		steps := []struct {
			advance time.Duration
			member  int64
			want    time.Time // the member's stored last activity after it acts
		}{
			{0, 1, t0},
			{400 * time.Millisecond, 1, t0},
			{0, 2, t0.Add(400 * time.Millisecond)},
			{599 * time.Millisecond, 1, t0},
			{time.Millisecond, 1, t0.Add(time.Second)},
			{0, 2, t0.Add(400 * time.Millisecond)},
		}
		for i, st := range steps {
			clk.Advance(st.advance)
			if err := p.Activity(ctx, st.member); err != nil {
				t.Fatal(err)
			}
			if row := mustGet(t, p, st.member); !eqTime(row.LastActivityAt, st.want) {
				t.Errorf("step %d: technician %d last active %v, want %v", i, st.member, row.LastActivityAt, st.want)
			}
		}
	})
}
