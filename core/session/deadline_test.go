package session

import (
	"testing"
	"time"
)

func TestDeadline(t *testing.T) {
	m := time.Minute
	set := Timeouts{CodeValidity: 20 * m, Connecting: 3 * m, Waiting: 15 * m, Idle: 30 * m}
	never := Timeouts{CodeValidity: 20 * m, Connecting: 3 * m} // Waiting and Idle 0 = never
	type want struct {
		at     time.Duration // from t0
		reason EndReason
		ok     bool
	}
	// sessionIn moves one minute a step: connecting at 0, waiting at 1m, active at 2m, then 3m.
	cases := []struct {
		state     State
		set, zero want
	}{
		{Pending, want{20 * m, CodeExpired, true}, want{20 * m, CodeExpired, true}},
		{Connecting, want{3 * m, ConnectingTimeout, true}, want{3 * m, ConnectingTimeout, true}},
		{Waiting, want{16 * m, WaitingTimeout, true}, want{}},
		{Transferring, want{18 * m, WaitingTimeout, true}, want{}},
		{Active, want{32 * m, IdleTimeout, true}, want{}},
		{OnHold, want{}, want{}},
		{Rebooting, want{}, want{}},
		{Reconnecting, want{}, want{}},
		{Closed, want{}, want{}},
		{TimedOut, want{}, want{}},
	}
	if len(cases) != len(allStates) {
		t.Fatalf("table covers %d states, want %d", len(cases), len(allStates))
	}
	check := func(st State, to Timeouts, w want) {
		t.Helper()
		s := sessionIn(t, st)
		gotAt, reason, ok := s.Deadline(to)
		wantAt := time.Time{}
		if w.ok {
			wantAt = at(w.at)
		}
		if ok != w.ok || reason != w.reason || !gotAt.Equal(wantAt) {
			t.Errorf("%s with %+v: (%v, %q, %v), want (%v, %q, %v)", st, to, gotAt, reason, ok, wantAt, w.reason, w.ok)
		}
		// The reason is the one Expire takes in this state.
		if ok {
			if err := clone(s).Expire(gotAt, reason); err != nil {
				t.Errorf("%s: Expire(%s) at the deadline: %v", st, reason, err)
			}
		}
	}
	for _, c := range cases {
		check(c.state, set, c.set)
		check(c.state, never, c.zero)
	}
}

func TestDeadlineFollowsTheSession(t *testing.T) {
	m := time.Minute
	to := Timeouts{CodeValidity: 20 * m, Connecting: 3 * m, Waiting: 15 * m, Idle: 30 * m}
	s := New(Private, at(0))
	must(t, s.Join(at(5*m)))
	if d, _, _ := s.Deadline(to); !d.Equal(at(8 * m)) {
		t.Errorf("connecting deadline counts from the join: %v", d)
	}
	must(t, s.Queue(at(6*m)))
	must(t, s.PickUp(at(7*m), 1))
	s.Touch(at(40 * m))
	if d, r, _ := s.Deadline(to); !d.Equal(at(70*m)) || r != IdleTimeout {
		t.Errorf("idle deadline counts from the last action: %v %s", d, r)
	}
	must(t, s.Hold(at(50*m)))
	must(t, s.Resume(at(90*m)))
	if d, _, _ := s.Deadline(to); !d.Equal(at(120 * m)) {
		t.Errorf("idle deadline after a long hold counts from the resume: %v", d)
	}
	// A code validity of 0 is a settings bug; the PIN expires at once rather than never.
	if d, r, ok := New(Private, at(0)).Deadline(Timeouts{CodeValidity: -m}); !ok || !d.Equal(at(0)) || r != CodeExpired {
		t.Errorf("zero code validity: %v %s %v", d, r, ok)
	}
}
