package session

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStatesComplete(t *testing.T) {
	seen := map[State]bool{}
	for _, st := range allStates {
		if !st.Valid() || st.Label() == "" || seen[st] {
			t.Errorf("state %q: valid=%v label=%q dup=%v", st, st.Valid(), st.Label(), seen[st])
		}
		seen[st] = true
	}
	for _, st := range []State{"", "Active", "closed_by_technician", "hold"} {
		if st.Valid() || st.Live() || st.Label() != "" {
			t.Errorf("unknown state %q reported valid/live/labelled", st)
		}
	}
}

func TestLabelAndLive(t *testing.T) {
	want := map[State]struct {
		label string
		live  bool
	}{
		Pending: {"Pending", true}, Connecting: {"Connecting", true}, Waiting: {"Waiting", true},
		Active: {"Active", true}, OnHold: {"On Hold", true}, Transferring: {"Transferring", true},
		Rebooting: {"Rebooting", true}, Reconnecting: {"Reconnecting", true},
		Closed: {"Closed", false}, TimedOut: {"Timed out", false},
	}
	if len(want) != len(allStates) {
		t.Fatalf("table has %d states, want %d", len(want), len(allStates))
	}
	for _, st := range allStates {
		if got := st.Label(); got != want[st].label {
			t.Errorf("%s.Label() = %q, want %q", st, got, want[st].label)
		}
		if got := st.Live(); got != want[st].live {
			t.Errorf("%s.Live() = %v, want %v", st, got, want[st].live)
		}
	}
}

func TestNew(t *testing.T) {
	p := New(Private, t0)
	if p.State != Pending || p.JoinedAt != nil || !p.StateSince.Equal(t0) || !p.LastActionAt.Equal(t0) {
		t.Errorf("New(Private) = %+v", p)
	}
	c := New(Channel, t0)
	if c.State != Connecting || c.JoinedAt == nil || !c.JoinedAt.Equal(t0) {
		t.Errorf("New(Channel) = %+v", c)
	}
}

type outcome struct {
	state  State
	reason EndReason // for an end state
}

// The whole transition table: every event against every state. A state missing from an
// event's row means the event is illegal there.
var transitions = []struct {
	event string
	apply func(s *Session, now time.Time) error
	want  map[State]outcome
}{
	{"join", (*Session).Join, map[State]outcome{Pending: {Connecting, ""}}},
	{"accept terms", (*Session).AcceptTerms, map[State]outcome{Connecting: {Waiting, ""}}},
	{"queue", (*Session).Queue, map[State]outcome{Connecting: {Waiting, ""}}},
	{"decline terms", (*Session).DeclineTerms, map[State]outcome{Connecting: {Closed, DeclinedTerms}}},
	{"pick up", func(s *Session, n time.Time) error { return s.PickUp(n, 9) },
		map[State]outcome{Waiting: {Active, ""}, Transferring: {Active, ""}}},
	{"hold", (*Session).Hold, map[State]outcome{Active: {OnHold, ""}}},
	{"resume", (*Session).Resume, map[State]outcome{OnHold: {Active, ""}}},
	{"transfer", func(s *Session, n time.Time) error {
		return s.Transfer(n, TransferInfo{From: 9, To: Target{ToTechnician, 4}, Comment: "printer"})
	}, map[State]outcome{Active: {Transferring, ""}, OnHold: {Transferring, ""},
		Waiting: {Waiting, ""}, Transferring: {Transferring, ""}}},
	{"auto-transfer", func(s *Session, n time.Time) error {
		return s.Transfer(n, TransferInfo{To: Target{ToChannel, 2}, Auto: true})
	}, map[State]outcome{Waiting: {Waiting, ""}}},
	{"reboot", (*Session).Reboot, map[State]outcome{Active: {Rebooting, ""}}},
	{"disconnect", (*Session).Disconnect, map[State]outcome{Active: {Reconnecting, ""},
		OnHold: {Reconnecting, ""}, Waiting: {Waiting, ""}}},
	{"reconnect", (*Session).Reconnect, map[State]outcome{Rebooting: {Active, ""},
		Reconnecting: {Active, ""}}},
	{"close", func(s *Session, n time.Time) error { return s.Close(n, ClosedByCustomer) },
		map[State]outcome{Pending: {Closed, Cancelled}, Connecting: {Closed, ClosedByCustomer},
			Waiting: {Closed, ClosedByCustomer}, Active: {Closed, ClosedByCustomer},
			OnHold: {Closed, ClosedByCustomer}, Transferring: {Closed, ClosedByCustomer},
			Rebooting: {Closed, ClosedByCustomer}, Reconnecting: {Closed, ClosedByCustomer}}},
	{"expire code_expired", func(s *Session, n time.Time) error { return s.Expire(n, CodeExpired) },
		map[State]outcome{Pending: {TimedOut, CodeExpired}}},
	{"expire connecting_timeout", func(s *Session, n time.Time) error { return s.Expire(n, ConnectingTimeout) },
		map[State]outcome{Connecting: {TimedOut, ConnectingTimeout}}},
	{"expire waiting_timeout", func(s *Session, n time.Time) error { return s.Expire(n, WaitingTimeout) },
		map[State]outcome{Waiting: {TimedOut, WaitingTimeout}, Transferring: {TimedOut, WaitingTimeout}}},
	{"expire idle_timeout", func(s *Session, n time.Time) error { return s.Expire(n, IdleTimeout) },
		map[State]outcome{Active: {TimedOut, IdleTimeout}}},
	{"end no technician", (*Session).EndNoTechnician,
		map[State]outcome{Connecting: {Closed, NoTechnician}, Waiting: {Closed, NoTechnician}}},
}

func TestTransitionTable(t *testing.T) {
	now := at(time.Hour)
	for _, tr := range transitions {
		for st := range tr.want {
			if !st.Valid() {
				t.Fatalf("%s: table names unknown state %q", tr.event, st)
			}
		}
		for _, st := range allStates {
			t.Run(tr.event+"/"+string(st), func(t *testing.T) {
				s := sessionIn(t, st)
				before := clone(s)
				err := tr.apply(s, now)
				want, legal := tr.want[st]
				if !legal {
					var te *TransitionError
					if !errors.As(err, &te) || !errors.Is(err, ErrIllegalTransition) {
						t.Fatalf("err = %v, want a *TransitionError", err)
					}
					if te.From != st {
						t.Errorf("TransitionError.From = %s, want %s", te.From, st)
					}
					if !equal(s, before) {
						t.Errorf("illegal %s changed the session:\n got %+v\nwant %+v", tr.event, s, before)
					}
					return
				}
				if err != nil {
					t.Fatalf("err = %v, want %s", err, want.state)
				}
				if s.State != want.state || s.EndReason != want.reason {
					t.Fatalf("-> %s (%q), want %s (%q)", s.State, s.EndReason, want.state, want.reason)
				}
				if s.State.Live() != (s.EndedAt == nil) {
					t.Errorf("live=%v but EndedAt=%v", s.State.Live(), s.EndedAt)
				}
				if s.State != st && !s.StateSince.Equal(now) {
					t.Errorf("StateSince = %v, want %v", s.StateSince, now)
				}
			})
		}
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	s := sessionIn(t, OnHold)
	err := s.PickUp(at(time.Hour), 3)
	if got, want := err.Error(), "cannot pick up a session that is on_hold"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if err := sessionIn(t, Waiting).Expire(at(time.Hour), IdleTimeout); err == nil ||
		err.Error() != "cannot expire with idle_timeout a session that is waiting" {
		t.Errorf("Expire mismatch: %v", err)
	}
}

// Expire is legal only with the one reason that belongs to the state.
func TestExpireReasonMatrix(t *testing.T) {
	want := map[State]EndReason{Pending: CodeExpired, Connecting: ConnectingTimeout,
		Waiting: WaitingTimeout, Transferring: WaitingTimeout, Active: IdleTimeout}
	for _, st := range allStates {
		for _, r := range append(allReasons, "", "bogus") {
			s := sessionIn(t, st)
			before := clone(s)
			err := s.Expire(at(time.Hour), r)
			if r == want[st] && r != "" {
				if err != nil || s.State != TimedOut || s.EndReason != r {
					t.Errorf("Expire(%s) in %s: err=%v state=%s", r, st, err, s.State)
				}
				continue
			}
			if !errors.Is(err, ErrIllegalTransition) || !equal(s, before) {
				t.Errorf("Expire(%q) in %s: err=%v, changed=%v", r, st, err, !equal(s, before))
			}
		}
	}
}

func TestCloseReasons(t *testing.T) {
	for _, st := range allStates {
		if !st.Live() {
			continue
		}
		for _, r := range append(allReasons, "", "bogus") {
			s := sessionIn(t, st)
			before := clone(s)
			err := s.Close(at(time.Hour), r)
			switch {
			case st == Pending:
				if err != nil || s.EndReason != Cancelled {
					t.Errorf("Close(%q) in pending: err=%v reason=%s", r, err, s.EndReason)
				}
			case r == ClosedByTechnician || r == ClosedByCustomer || r == ClosedByAdmin:
				if err != nil || s.State != Closed || s.EndReason != r {
					t.Errorf("Close(%q) in %s: err=%v reason=%s", r, st, err, s.EndReason)
				}
			default:
				if !errors.Is(err, ErrIllegalTransition) || !equal(s, before) {
					t.Errorf("Close(%q) in %s: err=%v changed=%v", r, st, err, !equal(s, before))
				}
			}
		}
	}
}

func TestArgumentErrorsLeaveSessionUntouched(t *testing.T) {
	cases := []struct {
		name  string
		state State
		apply func(*Session) error
		want  error
	}{
		{"pick up by 0", Waiting, func(s *Session) error { return s.PickUp(at(time.Hour), 0) }, ErrNoTechnician},
		{"pick up by -1", Transferring, func(s *Session) error { return s.PickUp(at(time.Hour), -1) }, ErrNoTechnician},
		{"transfer to nothing", Active, func(s *Session) error { return s.Transfer(at(time.Hour), TransferInfo{}) }, ErrInvalidTarget},
		{"transfer to unknown kind", Waiting, func(s *Session) error {
			return s.Transfer(at(time.Hour), TransferInfo{To: Target{"queue", 1}})
		}, ErrInvalidTarget},
		{"transfer to id 0", OnHold, func(s *Session) error {
			return s.Transfer(at(time.Hour), TransferInfo{To: Target{ToChannel, 0}})
		}, ErrInvalidTarget},
		// The state is checked first: an illegal state wins over a bad argument.
		{"pick up by 0 while active", Active, func(s *Session) error { return s.PickUp(at(time.Hour), 0) }, ErrIllegalTransition},
		{"auto-transfer while active", Active, func(s *Session) error {
			return s.Transfer(at(time.Hour), TransferInfo{To: Target{ToChannel, 2}, Auto: true})
		}, ErrIllegalTransition},
	}
	for _, c := range cases {
		s := sessionIn(t, c.state)
		before := clone(s)
		if err := c.apply(s); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if !equal(s, before) {
			t.Errorf("%s: session changed", c.name)
		}
	}
}

func TestTransferRecordsOrigin(t *testing.T) {
	s := sessionIn(t, OnHold) // owned by technician 7
	// Whoever asks, the origin of a transfer out of a technician's hands is that technician.
	must(t, s.Transfer(at(time.Hour), TransferInfo{From: 99, To: Target{ToGroup, 5}, Comment: "billing"}))
	want := TransferInfo{From: 7, To: Target{ToGroup, 5}, Comment: "billing", At: at(time.Hour)}
	if s.TechnicianID != 0 || s.TransferCount != 1 || *s.LastTransfer != want {
		t.Fatalf("after transfer: tech=%d count=%d info=%+v", s.TechnicianID, s.TransferCount, *s.LastTransfer)
	}
	// Re-targeted while still in the group's queue, by an admin (id 50).
	must(t, s.Transfer(at(61*time.Minute), TransferInfo{From: 50, To: Target{ToTechnician, 8}}))
	if s.State != Transferring || s.TransferCount != 2 || s.LastTransfer.From != 50 ||
		!s.StateSince.Equal(at(61*time.Minute)) {
		t.Fatalf("re-target: %+v %+v", s, *s.LastTransfer)
	}
	must(t, s.PickUp(at(62*time.Minute), 8))
	if s.TechnicianID != 8 || !s.PickedUpAt.Equal(at(2*time.Minute)) || s.LastTransfer.To.ID != 8 {
		t.Fatalf("picked up after transfer: %+v", s)
	}

	// An auto-transfer is by System, whatever From says.
	w := sessionIn(t, Waiting)
	must(t, w.Transfer(at(10*time.Minute), TransferInfo{From: 3, To: Target{ToChannel, 2}, Auto: true}))
	if w.State != Waiting || w.LastTransfer.From != 0 || !w.LastTransfer.Auto || w.TransferCount != 1 ||
		!w.StateSince.Equal(at(10*time.Minute)) || !w.WaitingAt.Equal(at(time.Minute)) {
		t.Fatalf("auto-transfer: %+v %+v", w, *w.LastTransfer)
	}
}

func TestDisconnectWhileWaitingIsANoOp(t *testing.T) {
	s := sessionIn(t, Waiting)
	before := clone(s)
	if err := s.Disconnect(at(time.Hour)); err != nil || !equal(s, before) {
		t.Fatalf("err=%v changed=%v", err, !equal(s, before))
	}
}

func TestTouch(t *testing.T) {
	s := sessionIn(t, Active) // picked up at 2m: becoming Active is an action
	if !s.LastActionAt.Equal(at(2 * time.Minute)) {
		t.Fatalf("LastActionAt after pick-up = %v", s.LastActionAt)
	}
	s.Touch(at(10 * time.Minute))
	s.Touch(at(9 * time.Minute)) // late message: the last action does not move back
	if !s.LastActionAt.Equal(at(10 * time.Minute)) {
		t.Fatalf("LastActionAt = %v", s.LastActionAt)
	}
	if got := s.IdleFor(at(15 * time.Minute)); got != 5*time.Minute {
		t.Errorf("IdleFor = %v", got)
	}
	if got := s.IdleFor(at(time.Minute)); got != 0 {
		t.Errorf("IdleFor before the last action = %v, want 0", got)
	}
	must(t, s.Close(at(20*time.Minute), ClosedByTechnician))
	before := clone(s)
	s.Touch(at(30 * time.Minute))
	if !equal(s, before) {
		t.Error("Touch changed an ended session")
	}
}

func TestFailedMissed(t *testing.T) {
	m := time.Minute
	cases := []struct {
		name           string
		kind           Kind
		script         func(*Session) error
		failed, missed bool
	}{
		{"private code expired", Private, func(s *Session) error { return s.Expire(at(m), CodeExpired) }, false, false},
		{"private cancelled", Private, func(s *Session) error { return s.Close(at(m), ClosedByTechnician) }, false, false},
		{"private pending, live", Private, func(*Session) error { return nil }, false, false},
		{"private joined, connecting timeout", Private, func(s *Session) error {
			return errors.Join(s.Join(at(m)), s.Expire(at(2*m), ConnectingTimeout))
		}, true, false},
		{"channel declined terms", Channel, func(s *Session) error { return s.DeclineTerms(at(m)) }, true, false},
		{"channel closed by customer while connecting", Channel, func(s *Session) error {
			return s.Close(at(m), ClosedByCustomer)
		}, true, false},
		{"channel no technician while connecting", Channel, func(s *Session) error { return s.EndNoTechnician(at(m)) }, true, false},
		{"channel connecting, live", Channel, func(*Session) error { return nil }, false, false},
		{"waiting, live", Channel, func(s *Session) error { return s.Queue(at(m)) }, false, false},
		{"waiting timeout", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.Expire(at(9*m), WaitingTimeout))
		}, false, true},
		{"no technician while waiting", Channel, func(s *Session) error {
			return errors.Join(s.AcceptTerms(at(m)), s.EndNoTechnician(at(2*m)))
		}, false, true},
		{"customer gave up waiting", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.Close(at(2*m), ClosedByCustomer))
		}, false, true},
		{"auto-transferred then timed out", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.Transfer(at(5*m), TransferInfo{To: Target{ToChannel, 2}, Auto: true}),
				s.Expire(at(9*m), WaitingTimeout))
		}, false, true},
		{"helped and closed", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.PickUp(at(2*m), 1), s.Close(at(3*m), ClosedByTechnician))
		}, false, false},
		{"helped, transferred, timed out in the queue", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.PickUp(at(2*m), 1),
				s.Transfer(at(3*m), TransferInfo{To: Target{ToGroup, 2}}), s.Expire(at(9*m), WaitingTimeout))
		}, false, false},
		{"helped, idle timeout", Channel, func(s *Session) error {
			return errors.Join(s.Queue(at(m)), s.PickUp(at(2*m), 1), s.Expire(at(9*m), IdleTimeout))
		}, false, false},
	}
	for _, c := range cases {
		s := New(c.kind, t0)
		must(t, c.script(s))
		if s.Failed() != c.failed || s.Missed() != c.missed {
			t.Errorf("%s: failed=%v missed=%v, want %v %v", c.name, s.Failed(), s.Missed(), c.failed, c.missed)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s := sessionIn(t, Transferring)
	s.ID = 42
	b, err := json.Marshal(s)
	must(t, err)
	for _, key := range []string{`"id":42`, `"state":"transferring"`, `"state_since"`, `"joined_at"`,
		`"waiting_at"`, `"picked_up_at"`, `"last_action_at"`, `"technician_id":0`, `"active_ns":60000000000`,
		`"reached_waiting":true`, `"transfer_count":1`, `"last_transfer":{"from":7,"to":{"kind":"group","id":3}`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var back Session
	must(t, json.Unmarshal(b, &back))
	if !equal(&back, s) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *s)
	}
}

// The hot path (chat traffic, timer sweeps, queue views) must not allocate.
func TestHotPathDoesNotAllocate(t *testing.T) {
	s := sessionIn(t, Active)
	now := at(time.Hour)
	to := Timeouts{Idle: 10 * time.Minute}
	var sink time.Duration
	n := testing.AllocsPerRun(100, func() {
		now = now.Add(time.Second)
		s.Touch(now)
		sink += s.WorkTime(now) + s.IdleFor(now) + s.BucketsAt(now).Waiting
		_, _, _ = s.Deadline(to)
		_ = s.State.Live()
		_ = s.Hold(now)
		_ = s.Resume(now)
	})
	if n != 0 {
		t.Errorf("hot path allocates %v times per run", n)
	}
	_ = sink
}
