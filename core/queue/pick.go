package queue

import (
	"cmp"
	"time"
)

// Candidate is a technician who could be given a waiting session by auto-start.
type Candidate struct {
	TechnicianID int64
	Status       Status    // the effective status (Effective)
	Active       int       // sessions active now
	IdleSince    time.Time // PresenceRow.IdleSince(); zero = idle forever
}

// PickLeastBusy chooses the technician auto-start gives a session to:
// among Online candidates, the one with the fewest active sessions, ties to
// the one idle longest (earliest IdleSince), then to the lowest id. It picks
// nobody unless that technician has fewer than maxActive active sessions;
// maxActive of AutoStartNoLimit (10) or more means regardless of load.
//
// Busy and Away technicians are left out: both may still pick up by hand
// (SESS-16), but a session started for someone away from the console or
// already marked busy would wait unseen while it shows as Active, and SESS-10
// already refuses to hand them sessions by transfer. Callers must drop
// candidates that may not take one more session at all (CanPickUp with
// their group's max_active_sessions) before calling.
func PickLeastBusy(cands []Candidate, maxActive int) (int64, bool) {
	var best *Candidate
	for i := range cands {
		c := &cands[i]
		if c.Status != StatusOnline {
			continue
		}
		if best == nil || lessBusy(c, best) {
			best = c
		}
	}
	if best == nil || (maxActive < AutoStartNoLimit && best.Active >= maxActive) {
		return 0, false
	}
	return best.TechnicianID, true
}

func lessBusy(a, b *Candidate) bool {
	if c := cmp.Compare(a.Active, b.Active); c != 0 {
		return c < 0
	}
	if c := a.IdleSince.Compare(b.IdleSince); c != 0 {
		return c < 0
	}
	return a.TechnicianID < b.TechnicianID
}
