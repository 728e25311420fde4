package session

import (
	"testing"
	"time"
)

// A scripted channel session with exact durations: 5s connecting, 2m waiting, then 10m active
// in four stretches around 1m hold, a 30s transfer, a 45s reboot and a 2m reconnect.
func TestBucketsLifecycle(t *testing.T) {
	s := New(Channel, at(0))
	clock := time.Duration(0)
	// step advances the clock by d, applies f, and checks the buckets at the new time.
	step := func(d time.Duration, f func(time.Time) error, want Buckets) {
		t.Helper()
		mid := at(clock + d/2)
		clock += d
		now := at(clock)
		// Halfway through, the open interval already counts, in the current state's bucket only.
		open := s.Buckets
		open.add(s.State, d/2)
		if got := s.BucketsAt(mid); got != open {
			t.Errorf("at %v in %s: BucketsAt = %+v, want %+v", clock-d/2, s.State, got, open)
		}
		must(t, f(now))
		if s.Buckets != want {
			t.Fatalf("after %v (%s):\n got %+v\nwant %+v", clock, s.State, s.Buckets, want)
		}
	}
	sec, m := time.Second, time.Minute
	b := Buckets{Connecting: 5 * sec}
	step(5*sec, s.Queue, b)
	b.Waiting = 2 * m
	step(2*m, func(n time.Time) error { return s.PickUp(n, 7) }, b)
	b.Active = 3 * m
	step(3*m, s.Hold, b)
	b.Hold = m
	step(m, s.Resume, b)
	b.Active += 2 * m
	step(2*m, func(n time.Time) error { return s.Transfer(n, TransferInfo{To: Target{ToTechnician, 8}}) }, b)
	b.Transfer = 30 * sec
	step(30*sec, func(n time.Time) error { return s.PickUp(n, 8) }, b)
	b.Active += 2 * m
	step(2*m, s.Reboot, b)
	b.Reboot = 45 * sec
	step(45*sec, s.Reconnect, b)
	b.Active += 2 * m
	step(2*m, s.Disconnect, b)
	b.Reconnect = 2 * m
	step(2*m, s.Reconnect, b)
	b.Active += m
	step(m, func(n time.Time) error { return s.Close(n, ClosedByCustomer) }, b)

	want := Buckets{Connecting: 5 * sec, Waiting: 2 * m, Active: 10 * m, Hold: m, Transfer: 30 * sec,
		Reboot: 45 * sec, Reconnect: 2 * m}
	if s.Buckets != want {
		t.Fatalf("final buckets %+v, want %+v", s.Buckets, want)
	}
	if got, wantTotal := s.Buckets.Total(), 14*m+15*sec; got != wantTotal {
		t.Errorf("Total = %v, want %v", got, wantTotal)
	}
	// Ended: nothing more accrues, however late we look.
	if got := s.BucketsAt(at(24 * time.Hour)); got != want {
		t.Errorf("BucketsAt after the end = %+v", got)
	}
	if got := s.WorkTime(at(24 * time.Hour)); got != 14*m+15*sec {
		t.Errorf("WorkTime = %v", got)
	}
	if rt, ok := s.ResponseTime(); !ok || rt != 2*m {
		t.Errorf("ResponseTime = %v, %v; want 2m", rt, ok)
	}
	if !s.EndedAt.Equal(at(clock)) || s.TransferCount != 1 || s.TechnicianID != 8 {
		t.Errorf("end: EndedAt=%v transfers=%d tech=%d", s.EndedAt, s.TransferCount, s.TechnicianID)
	}
}

func TestOpenIntervalAndWorkTime(t *testing.T) {
	s := sessionIn(t, Active) // connecting 1m, waiting 1m, active since 2m
	got := s.BucketsAt(at(12 * time.Minute))
	if got.Connecting != time.Minute || got.Waiting != time.Minute || got.Active != 10*time.Minute {
		t.Fatalf("BucketsAt = %+v", got)
	}
	if s.Buckets.Active != 0 {
		t.Errorf("BucketsAt changed the stored buckets: %+v", s.Buckets)
	}
	if w := s.WorkTime(at(12 * time.Minute)); w != 10*time.Minute {
		t.Errorf("WorkTime = %v (connecting and waiting must not count)", w)
	}
}

func TestResponseTimeUnknownUntilPickedUp(t *testing.T) {
	for _, st := range []State{Pending, Connecting, Waiting, TimedOut} {
		if d, ok := sessionIn(t, st).ResponseTime(); ok || d != 0 {
			t.Errorf("%s: ResponseTime = %v, %v", st, d, ok)
		}
	}
}

func TestPendingCountsNowhere(t *testing.T) {
	s := New(Private, at(0))
	if b := s.BucketsAt(at(time.Hour)); b != (Buckets{}) {
		t.Fatalf("pending accrued %+v", b)
	}
	must(t, s.Join(at(10*time.Minute)))
	must(t, s.Queue(at(10*time.Minute+5*time.Second)))
	if s.Buckets != (Buckets{Connecting: 5 * time.Second}) {
		t.Fatalf("buckets = %+v", s.Buckets)
	}
}

// Clocks disagree: a time before the current state began counts as zero and never moves the
// session's clock back, so nothing is counted twice later.
func TestTimeNeverGoesBackwards(t *testing.T) {
	s := sessionIn(t, Active) // active since 2m
	if b := s.BucketsAt(at(time.Minute)); b.Active != 0 || b != s.Buckets {
		t.Errorf("BucketsAt before StateSince = %+v", b)
	}
	must(t, s.Hold(at(time.Minute))) // a late hold, stamped before the pick-up
	if s.Buckets.Active != 0 || !s.StateSince.Equal(at(2*time.Minute)) {
		t.Fatalf("late hold: buckets=%+v since=%v", s.Buckets, s.StateSince)
	}
	must(t, s.Resume(at(5*time.Minute)))
	if s.Buckets.Hold != 3*time.Minute {
		t.Errorf("hold = %v, want 3m (from the clamped 2m)", s.Buckets.Hold)
	}
	must(t, s.Close(at(0), ClosedByAdmin))
	if !s.EndedAt.Equal(at(5*time.Minute)) || s.Buckets.Active != 0 {
		t.Errorf("late close: EndedAt=%v buckets=%+v", s.EndedAt, s.Buckets)
	}
	for _, d := range []time.Duration{s.Buckets.Connecting, s.Buckets.Waiting, s.Buckets.Active,
		s.Buckets.Hold, s.Buckets.Transfer, s.Buckets.Reboot, s.Buckets.Reconnect} {
		if d < 0 {
			t.Fatalf("negative bucket in %+v", s.Buckets)
		}
	}

	// A pick-up stamped before the session entered Waiting still gives a non-negative response.
	w := sessionIn(t, Waiting) // waiting since 1m
	must(t, w.PickUp(at(0), 4))
	if rt, ok := w.ResponseTime(); !ok || rt != 0 {
		t.Errorf("ResponseTime = %v, %v; want 0", rt, ok)
	}
}
