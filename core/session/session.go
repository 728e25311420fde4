package session

import (
	"errors"
	"fmt"
	"time"
)

// ErrIllegalTransition is matched (errors.Is) by every *TransitionError.
var ErrIllegalTransition = errors.New("illegal session transition")

// Argument errors: the state allowed the event but what was asked cannot be recorded.
var (
	ErrNoTechnician  = errors.New("session: a pick-up needs a technician id > 0")
	ErrInvalidTarget = errors.New("session: a transfer needs a technician, group or channel target with an id > 0")
)

// TransitionError is returned when an event is not allowed in the session's current state.
// The session is left exactly as it was.
type TransitionError struct {
	From  State  `json:"from"`
	Event string `json:"event"`
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s a session that is %s", e.Event, e.From)
}

// Is makes errors.Is(err, ErrIllegalTransition) hold.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

// TransferInfo describes the latest transfer (SESS-10, Q-1).
type TransferInfo struct {
	// From is the origin technician, 0 = System (an auto-transfer, Q-1). From Active or On Hold
	// it is always the technician who owned the session, whoever asked for the transfer.
	From    int64     `json:"from"`
	To      Target    `json:"to"`
	Comment string    `json:"comment,omitempty"`
	Auto    bool      `json:"auto"`
	At      time.Time `json:"at"`
}

// Session is the aggregate. Every field is exported so the store can persist it; only the
// methods below should change it.
type Session struct {
	ID    int64 `json:"id"`
	Kind  Kind  `json:"kind"`
	State State `json:"state"`
	// StateSince is when the current state was entered: the start of the open bucket interval.
	StateSince time.Time `json:"state_since"`
	CreatedAt  time.Time `json:"created_at"`
	// JoinedAt is when the customer came: the PIN entry (private) or the creation (channel).
	JoinedAt *time.Time `json:"joined_at,omitempty"`
	// WaitingAt is when the session first entered Waiting; ResponseTime counts from it.
	WaitingAt *time.Time `json:"waiting_at,omitempty"`
	// PickedUpAt is when the session first became Active.
	PickedUpAt *time.Time `json:"picked_up_at,omitempty"`
	EndedAt    *time.Time `json:"ended_at,omitempty"`
	// LastActionAt is the last chat or action by either side (the idle timeout counts from it).
	// Creation, Touch and every entry into Active set it; it never moves backwards.
	LastActionAt time.Time `json:"last_action_at"`
	// TechnicianID is the current owner; 0 while the session is queued (Waiting, Transferring).
	// It is kept when the session ends.
	TechnicianID int64 `json:"technician_id"`
	// Buckets holds closed intervals only; BucketsAt adds the open one.
	Buckets        Buckets       `json:"buckets"`
	EndReason      EndReason     `json:"end_reason,omitempty"`
	ReachedWaiting bool          `json:"reached_waiting"`
	ReachedActive  bool          `json:"reached_active"`
	TransferCount  int           `json:"transfer_count"`
	LastTransfer   *TransferInfo `json:"last_transfer,omitempty"`
}

// New starts a session at now: a private one is Pending (PIN issued, nobody joined yet); a
// channel one is Connecting, because the customer opening the link is what creates it.
func New(kind Kind, now time.Time) *Session {
	s := &Session{Kind: kind, State: Connecting, StateSince: now, CreatedAt: now, LastActionAt: now}
	if kind == Private {
		s.State = Pending
	} else {
		s.JoinedAt = &now
	}
	return s
}

// Ended reports whether the session is over (Closed or Timed out).
func (s *Session) Ended() bool { return !s.State.Live() }

// Join records the customer entering the PIN: Pending -> Connecting.
func (s *Session) Join(now time.Time) error {
	if s.State != Pending {
		return s.illegal("join")
	}
	now = s.clamp(now)
	s.enter(now, Connecting)
	s.JoinedAt = &now
	return nil
}

// AcceptTerms records the customer accepting the terms (SESS-6): Connecting -> Waiting.
func (s *Session) AcceptTerms(now time.Time) error {
	return s.queue(now, "accept the terms of")
}

// Queue moves a session with no terms to show into the queue: Connecting -> Waiting.
func (s *Session) Queue(now time.Time) error {
	return s.queue(now, "queue")
}

func (s *Session) queue(now time.Time, event string) error {
	if s.State != Connecting {
		return s.illegal(event)
	}
	now = s.clamp(now)
	s.enter(now, Waiting)
	s.ReachedWaiting = true
	s.WaitingAt = &now
	return nil
}

// DeclineTerms ends a session whose customer declined the terms: Connecting -> Closed. It
// never reached Waiting, so it counts as failed (SESS-5, SESS-6).
func (s *Session) DeclineTerms(now time.Time) error {
	if s.State != Connecting {
		return s.illegal("decline the terms of")
	}
	s.end(s.clamp(now), Closed, DeclinedTerms)
	return nil
}

// PickUp gives a queued session to a technician: Waiting or Transferring -> Active.
func (s *Session) PickUp(now time.Time, technicianID int64) error {
	if s.State != Waiting && s.State != Transferring {
		return s.illegal("pick up")
	}
	if technicianID <= 0 {
		return ErrNoTechnician
	}
	now = s.clamp(now)
	s.enterActive(now)
	s.TechnicianID = technicianID
	if !s.ReachedActive {
		s.ReachedActive = true
		s.PickedUpAt = &now
	}
	return nil
}

// Hold puts an active session on hold: Active -> OnHold.
func (s *Session) Hold(now time.Time) error {
	if s.State != Active {
		return s.illegal("hold")
	}
	s.enter(s.clamp(now), OnHold)
	return nil
}

// Resume takes a session off hold: OnHold -> Active.
func (s *Session) Resume(now time.Time) error {
	if s.State != OnHold {
		return s.illegal("resume")
	}
	s.enterActive(s.clamp(now))
	return nil
}

// Transfer sends the session to another queue (SESS-10, Q-1) and counts it:
//   - Active or OnHold -> Transferring: the owner is released (TechnicianID 0) and recorded
//     as info.From;
//   - Waiting -> Waiting: re-queued to the target (e.g. an auto-transfer);
//   - Transferring -> Transferring: re-targeted.
//
// Entering the new queue restarts the waiting timeout (StateSince = now); the time keeps
// going to the same bucket. An auto-transfer (info.Auto) is only for a Waiting session and
// is always by System (From 0). info.At is set to now.
func (s *Session) Transfer(now time.Time, info TransferInfo) error {
	switch {
	case info.Auto && s.State != Waiting:
		return s.illegal("auto-transfer")
	case s.State != Active && s.State != OnHold && s.State != Waiting && s.State != Transferring:
		return s.illegal("transfer")
	case !info.To.Valid():
		return ErrInvalidTarget
	}
	now = s.clamp(now)
	switch {
	case info.Auto:
		info.From = 0
	case s.State == Active || s.State == OnHold:
		info.From = s.TechnicianID
	}
	info.At = now
	if s.State == Active || s.State == OnHold {
		s.enter(now, Transferring)
		s.TechnicianID = 0
	} else {
		s.enter(now, s.State)
	}
	s.TransferCount++
	s.LastTransfer = &info
	return nil
}

// Reboot records the customer's computer restarting during the session: Active -> Rebooting.
func (s *Session) Reboot(now time.Time) error {
	if s.State != Active {
		return s.illegal("reboot")
	}
	s.enter(s.clamp(now), Rebooting)
	return nil
}

// Disconnect records a customer network drop: Active or OnHold -> Reconnecting. A Waiting
// session stays Waiting (the customer keeps its place in the queue) and nothing changes.
func (s *Session) Disconnect(now time.Time) error {
	switch s.State {
	case Waiting:
		return nil
	case Active, OnHold:
		s.enter(s.clamp(now), Reconnecting)
		return nil
	}
	return s.illegal("disconnect")
}

// Reconnect records the customer coming back: Rebooting or Reconnecting -> Active. A session
// dropped while on hold comes back Active: the technician is there to see the customer return.
func (s *Session) Reconnect(now time.Time) error {
	if s.State != Rebooting && s.State != Reconnecting {
		return s.illegal("reconnect")
	}
	s.enterActive(s.clamp(now))
	return nil
}

// Close ends a live session by a person: reason is closed_by_technician, closed_by_customer or
// closed_by_admin (other reasons have their own methods). A Pending session is always closed
// with reason cancelled, whatever was passed: no customer ever came.
func (s *Session) Close(now time.Time, reason EndReason) error {
	if !s.State.Live() {
		return s.illegal("close")
	}
	if s.State == Pending {
		reason = Cancelled
	} else if reason != ClosedByTechnician && reason != ClosedByCustomer && reason != ClosedByAdmin {
		return s.illegal("close with " + string(reason))
	}
	s.end(s.clamp(now), Closed, reason)
	return nil
}

// Expire times the session out (SESS-8) with the reason that belongs to its state:
// Pending code_expired, Connecting connecting_timeout, Waiting or Transferring
// waiting_timeout, Active idle_timeout. Any other state or reason is an illegal transition.
// Expire does not check that the deadline has passed; the timer service does (see Deadline).
func (s *Session) Expire(now time.Time, reason EndReason) error {
	if reason != expiryReason(s.State) || reason == "" {
		return s.illegal("expire with " + string(reason))
	}
	s.end(s.clamp(now), TimedOut, reason)
	return nil
}

func expiryReason(st State) EndReason {
	switch st {
	case Pending:
		return CodeExpired
	case Connecting:
		return ConnectingTimeout
	case Waiting, Transferring:
		return WaitingTimeout
	case Active:
		return IdleTimeout
	}
	return ""
}

// EndNoTechnician ends a session nobody can take, sending the customer to the configured page
// Connecting or Waiting -> Closed with reason no_technician.
func (s *Session) EndNoTechnician(now time.Time) error {
	if s.State != Connecting && s.State != Waiting {
		return s.illegal("end with " + string(NoTechnician))
	}
	s.end(s.clamp(now), Closed, NoTechnician)
	return nil
}

// Touch records a chat message or action by either side. It is not a transition: on an ended
// session, or with a time earlier than the last action, it does nothing (a message racing the
// close is the relay's business, not an error of the aggregate). It never allocates.
func (s *Session) Touch(now time.Time) {
	if s.State.Live() && now.After(s.LastActionAt) {
		s.LastActionAt = now
	}
}

// BucketsAt is Buckets plus the open interval of the current state up to now.
func (s *Session) BucketsAt(now time.Time) Buckets {
	b := s.Buckets
	b.add(s.State, since(s.StateSince, now))
	return b
}

// WorkTime is the total time (RPT-3) up to now: P2U-2's worktime.
func (s *Session) WorkTime(now time.Time) time.Duration { return s.BucketsAt(now).Total() }

// ResponseTime is RPT-3's response (waiting) time: first Waiting -> first Active. ok is false
// until the session has been picked up.
func (s *Session) ResponseTime() (d time.Duration, ok bool) {
	if s.WaitingAt == nil || s.PickedUpAt == nil {
		return 0, false
	}
	return since(*s.WaitingAt, *s.PickedUpAt), true
}

// IdleFor is how long neither side has acted, at now.
func (s *Session) IdleFor(now time.Time) time.Duration { return since(s.LastActionAt, now) }

// Failed reports a failed session (SESS-5): the customer came but the session ended before it
// ever reached Waiting (e.g. declined terms, connecting timeout). A private session that ended
// while Pending (code expired, cancelled) is not failed: its customer never came.
func (s *Session) Failed() bool { return s.Ended() && s.JoinedAt != nil && !s.ReachedWaiting }

// Missed reports a missed session (SESS-5): it ended after waiting, and nobody ever picked it up.
func (s *Session) Missed() bool { return s.Ended() && s.ReachedWaiting && !s.ReachedActive }

func (s *Session) illegal(event string) error {
	return &TransitionError{From: s.State, Event: event}
}

// clamp keeps time from going backwards: a now before StateSince (another node's clock, a late
// event) is taken as StateSince, so intervals are never negative and timestamps stay ordered.
func (s *Session) clamp(now time.Time) time.Time {
	if now.Before(s.StateSince) {
		return s.StateSince
	}
	return now
}

// enter closes the open interval into the current state's bucket and starts state to at now.
func (s *Session) enter(now time.Time, to State) {
	s.Buckets.add(s.State, since(s.StateSince, now))
	s.State = to
	s.StateSince = now
}

// enterActive also counts becoming Active as an action, so that a session picked up after a long
// wait, or back from hold or a reboot, is not idle-expired at once.
func (s *Session) enterActive(now time.Time) {
	s.enter(now, Active)
	s.Touch(now)
}

func (s *Session) end(now time.Time, to State, reason EndReason) {
	s.enter(now, to)
	s.EndReason = reason
	s.EndedAt = &now
}
