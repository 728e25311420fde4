package session

import (
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// allStates must list every State; TestStatesComplete keeps it honest.
var allStates = []State{Pending, Connecting, Waiting, Active, OnHold, Transferring, Rebooting,
	Reconnecting, Closed, TimedOut}

var allReasons = []EndReason{ClosedByTechnician, ClosedByCustomer, ClosedByAdmin, DeclinedTerms,
	CodeExpired, ConnectingTimeout, WaitingTimeout, IdleTimeout, NoTechnician, Cancelled}

// clone copies s deeply, so that a later change to s cannot show through the copy.
func clone(s *Session) *Session {
	c := *s
	for _, p := range []**time.Time{&c.JoinedAt, &c.WaitingAt, &c.PickedUpAt, &c.EndedAt} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	if c.LastTransfer != nil {
		v := *c.LastTransfer
		c.LastTransfer = &v
	}
	return &c
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sessionIn builds, by legal transitions one minute apart, a session in state st.
func sessionIn(t testing.TB, st State) *Session {
	t.Helper()
	if st == Pending {
		return New(Private, at(0))
	}
	s := New(Channel, at(0))
	step := func(i int, f func(time.Time) error) { must(t, f(at(time.Duration(i)*time.Minute))) }
	if st == Connecting {
		return s
	}
	step(1, s.Queue)
	if st == Waiting {
		return s
	}
	if st == TimedOut {
		step(2, func(n time.Time) error { return s.Expire(n, WaitingTimeout) })
		return s
	}
	step(2, func(n time.Time) error { return s.PickUp(n, 7) })
	switch st {
	case Active:
	case OnHold:
		step(3, s.Hold)
	case Transferring:
		step(3, func(n time.Time) error {
			return s.Transfer(n, TransferInfo{To: Target{ToGroup, 3}, Comment: "needs a Mac person"})
		})
	case Rebooting:
		step(3, s.Reboot)
	case Reconnecting:
		step(3, s.Disconnect)
	case Closed:
		step(3, func(n time.Time) error { return s.Close(n, ClosedByTechnician) })
	default:
		t.Fatalf("sessionIn: no path to %q", st)
	}
	if s.State != st {
		t.Fatalf("sessionIn(%s) built %s", st, s.State)
	}
	return s
}

func equal(a, b *Session) bool { return reflect.DeepEqual(a, b) }
