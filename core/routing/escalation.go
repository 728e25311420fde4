package routing

import "time"

// Escalation is where a session stands in its rule's escalation chain.
type Escalation struct {
	// Step is the index in Decision.Steps that applies now, -1 when the
	// channel's settings apply.
	Step int
	// Target is the step's target (zero when the channel's settings apply).
	Target Target
	// NextIn is how long until the next step starts (or, after the last
	// step, until the channel's settings apply); 0 when nothing is due, so
	// the queue schedules no timer.
	NextIn time.Duration
	// ChannelSettings says the rule's chain is over, or no rule matched:
	// the channel's own settings (auto-transfer, timeouts) apply.
	ChannelSettings bool
}

// Escalate says which step applies to a session that has spent
// waitedInStep in step (start with step 0 when the rule matches). Several
// steps may have passed, e.g. after a restart. A step with Wait 0 lasts
// forever if it is the last one and not at all otherwise (validation
// refuses the latter).
func (d Decision) Escalate(step int, waitedInStep time.Duration) Escalation {
	over := Escalation{Step: -1, ChannelSettings: true}
	if !d.Matched || step >= len(d.Steps) {
		return over
	}
	step = max(step, 0)
	waited := max(waitedInStep, 0)
	last := len(d.Steps) - 1
	for ; step <= last; step++ {
		s := d.Steps[step]
		if s.Wait == 0 && step == last {
			return Escalation{Step: step, Target: s.Target}
		}
		if waited < s.Wait {
			return Escalation{Step: step, Target: s.Target, NextIn: s.Wait - waited}
		}
		waited -= s.Wait
	}
	return over
}
