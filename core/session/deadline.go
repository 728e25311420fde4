package session

import "time"

// Timeouts are the SESS-8 settings that apply to a session (resolved per channel or group by
// the caller). Waiting and Idle of 0 mean never. CodeValidity and Connecting always apply:
// settings validation keeps them positive, and 0 here expires at once rather than leaving a
// PIN valid forever.
type Timeouts struct {
	CodeValidity time.Duration `json:"code_validity_ns"`
	Connecting   time.Duration `json:"connecting_ns"`
	Waiting      time.Duration `json:"waiting_ns"`
	Idle         time.Duration `json:"idle_ns"`
}

// Deadline says when the current state would time out under t, and with which reason to call
// Expire; ok is false when it never will (0 = never, or a state without a timeout: On Hold,
// Rebooting, Reconnecting, ended). A queued session (Waiting, Transferring) counts from when it
// entered its current queue, so a transfer restarts its clock; an Active one from its last action.
func (s *Session) Deadline(t Timeouts) (at time.Time, reason EndReason, ok bool) {
	switch s.State {
	case Pending:
		return s.CreatedAt.Add(max(t.CodeValidity, 0)), CodeExpired, true
	case Connecting:
		return s.StateSince.Add(max(t.Connecting, 0)), ConnectingTimeout, true
	case Waiting, Transferring:
		if t.Waiting <= 0 {
			return time.Time{}, "", false
		}
		return s.StateSince.Add(t.Waiting), WaitingTimeout, true
	case Active:
		if t.Idle <= 0 {
			return time.Time{}, "", false
		}
		return s.LastActionAt.Add(t.Idle), IdleTimeout, true
	}
	return time.Time{}, "", false
}
