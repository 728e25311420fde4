package session

import (
	"errors"
	"testing"
	"time"
)

// event applies one fuzzed event; arg picks the technician, reason or target, sometimes a bad one.
func event(s *Session, code, arg byte, now time.Time) error {
	reason := func() EndReason {
		if int(arg) < len(allReasons) {
			return allReasons[arg]
		}
		return EndReason([]string{"", "bogus"}[arg%2])
	}
	switch code % 15 {
	case 0:
		return s.Join(now)
	case 1:
		return s.AcceptTerms(now)
	case 2:
		return s.Queue(now)
	case 3:
		return s.DeclineTerms(now)
	case 4:
		return s.PickUp(now, int64(arg%5)) // 0 is refused
	case 5:
		return s.Hold(now)
	case 6:
		return s.Resume(now)
	case 7:
		kinds := []TargetKind{ToTechnician, ToGroup, ToChannel, "queue"}
		return s.Transfer(now, TransferInfo{From: int64(arg % 3), To: Target{kinds[arg%4], int64(arg % 3)},
			Auto: arg&0x80 != 0})
	case 8:
		return s.Reboot(now)
	case 9:
		return s.Disconnect(now)
	case 10:
		return s.Reconnect(now)
	case 11:
		return s.Close(now, reason())
	case 12:
		return s.Expire(now, reason())
	case 13:
		return s.EndNoTechnician(now)
	default:
		s.Touch(now)
		return nil
	}
}

// FuzzTransitions applies random event sequences with non-decreasing times and checks the
// invariants after every step. Each step is 3 bytes: event, argument, seconds to advance.
func FuzzTransitions(f *testing.F) {
	f.Add(byte(1), []byte{2, 0, 5, 4, 7, 120, 5, 0, 60, 6, 0, 60, 7, 1, 30, 4, 8, 30, 9, 0, 10, 10, 0, 120, 11, 0, 60})
	f.Add(byte(0), []byte{0, 0, 10, 1, 0, 5, 7, 0x82, 200, 12, 6, 255, 14, 0, 1})
	f.Add(byte(0), []byte{12, 4, 255, 11, 1, 0})
	f.Add(byte(1), []byte{3, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, kind byte, script []byte) {
		k := Private
		if kind%2 == 1 {
			k = Channel
		}
		// Longer scripts find nothing new and make the fuzzer's minimisation crawl.
		if len(script) > 3*64 {
			script = script[:3*64]
		}
		s := New(k, t0)
		now := t0
		for i := 0; i+2 < len(script); i += 3 {
			now = now.Add(time.Duration(script[i+2]) * time.Second)
			before := clone(s)
			err := event(s, script[i], script[i+1], now)

			var te *TransitionError
			switch {
			case err == nil:
			case errors.As(err, &te):
				if te.From != before.State || !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("step %d: %v from %s", i/3, err, before.State)
				}
			case errors.Is(err, ErrNoTechnician), errors.Is(err, ErrInvalidTarget):
			default:
				t.Fatalf("step %d: unexpected error %v", i/3, err)
			}
			if err != nil && !equal(s, before) {
				t.Fatalf("step %d: failed event %d changed the session: %v", i/3, script[i]%15, err)
			}
			if before.Ended() && !equal(s, before) {
				t.Fatalf("step %d: an ended session changed: %+v -> %+v", i/3, before, s)
			}
			checkInvariants(t, s, before, now)
		}
	})
}

func checkInvariants(t *testing.T, s, before *Session, now time.Time) {
	t.Helper()
	if !s.State.Valid() || s.State.Label() == "" {
		t.Fatalf("unknown state %q", s.State)
	}
	if s.StateSince.Before(before.StateSince) || s.LastActionAt.Before(before.LastActionAt) {
		t.Fatalf("time went backwards: %+v -> %+v", before, s)
	}
	for _, b := range []Buckets{s.Buckets, s.BucketsAt(now)} {
		for _, d := range []time.Duration{b.Connecting, b.Waiting, b.Active, b.Hold, b.Transfer, b.Reboot, b.Reconnect} {
			if d < 0 {
				t.Fatalf("negative bucket: %+v", b)
			}
		}
		if b.Total() != b.Active+b.Hold+b.Transfer+b.Reboot+b.Reconnect {
			t.Fatalf("Total %v is not the sum of the five in %+v", b.Total(), b)
		}
	}
	if s.WorkTime(now) != s.BucketsAt(now).Total() {
		t.Fatal("WorkTime differs from BucketsAt(now).Total()")
	}
	// Every moment since creation is in exactly one bucket, or in Pending, or after the end.
	end := now
	if s.EndedAt != nil {
		end = *s.EndedAt
	}
	pending := time.Duration(0)
	if s.Kind == Private {
		until := end
		if s.JoinedAt != nil {
			until = *s.JoinedAt
		}
		pending = until.Sub(s.CreatedAt)
	}
	b := s.BucketsAt(now)
	if sum := b.Connecting + b.Waiting + b.Total() + pending; sum != end.Sub(s.CreatedAt) {
		t.Fatalf("buckets %+v + pending %v = %v, want %v", b, pending, sum, end.Sub(s.CreatedAt))
	}
	if s.Ended() != (s.EndedAt != nil) || s.Ended() != (s.EndReason != "") || (s.Ended() && !s.EndReason.Valid()) {
		t.Fatalf("ended=%v EndedAt=%v EndReason=%q", s.Ended(), s.EndedAt, s.EndReason)
	}
	if s.ReachedWaiting != (s.WaitingAt != nil) || s.ReachedActive != (s.PickedUpAt != nil) ||
		(s.ReachedActive && !s.ReachedWaiting) {
		t.Fatalf("reached flags disagree with timestamps: %+v", s)
	}
	if rt, ok := s.ResponseTime(); ok != s.ReachedActive || rt < 0 {
		t.Fatalf("ResponseTime = %v, %v", rt, ok)
	}
	switch s.State {
	case Active, OnHold, Rebooting, Reconnecting:
		if s.TechnicianID <= 0 {
			t.Fatalf("%s without a technician", s.State)
		}
	case Pending, Connecting, Waiting, Transferring:
		if s.TechnicianID != 0 {
			t.Fatalf("%s owned by %d", s.State, s.TechnicianID)
		}
	}
	if s.Failed() && s.Missed() {
		t.Fatal("both failed and missed")
	}
	if s.TransferCount > 0 && s.LastTransfer == nil {
		t.Fatal("transfers counted without a transfer recorded")
	}
	if at, reason, ok := s.Deadline(Timeouts{CodeValidity: time.Hour, Connecting: time.Minute,
		Waiting: time.Minute, Idle: time.Minute}); ok {
		if err := clone(s).Expire(at, reason); err != nil {
			t.Fatalf("Deadline says %s at %v but Expire refuses: %v", reason, at, err)
		}
	}
}
