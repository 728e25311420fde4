package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// TargetKind says what a target's IDs are.
type TargetKind string

const (
	// TargetGroup sends the session to the queue of technician groups.
	TargetGroup TargetKind = "group"
	// TargetChannel sends it to the queue of channels (every technician who
	// takes sessions from one of them).
	TargetChannel TargetKind = "channel"
	// TargetTechnicians offers it to the listed technicians.
	TargetTechnicians TargetKind = "technicians"
)

// MaxStepWait bounds one escalation step's wait. The other limits of a
// rule's structure are its validate tags (10 steps, 100 target IDs, 1,000
// applies-to IDs, session priority 0 to 100).
const MaxStepWait = 24 * time.Hour

// Rule is one routing rule, as the API, storage and rule packs carry it.
type Rule struct {
	// ID is the storage ID; 0 until stored. Pack rules carry their pack's ID.
	ID          int64  `json:"id"`
	Name        string `json:"name" validate:"required,max=100"`
	Description string `json:"description" validate:"max=2000"`
	Enabled     bool   `json:"enabled"`
	// Priority orders rules: lower first; ties are broken by ID.
	Priority  int       `json:"priority" validate:"gte=0,lte=1000000"`
	AppliesTo AppliesTo `json:"applies_to"`
	// When is the predicate over Env (session, clock, queue).
	When string `json:"when" validate:"required"`
	Then Then   `json:"then"`
}

// AppliesTo limits a rule to some sessions: channel sessions of the listed
// channels and private sessions of the listed technician groups. Both empty
// means every session.
type AppliesTo struct {
	ChannelIDs []int64 `json:"channel_ids" validate:"max=1000,dive,gt=0"`
	GroupIDs   []int64 `json:"group_ids" validate:"max=1000,dive,gt=0"`
}

// Then is what a matching rule decides.
type Then struct {
	// Target is the queue the session goes to, and the target of every step
	// that has none of its own.
	Target Target `json:"target"`
	// SessionPriority orders the session in its queue: 0 is normal, higher
	// is picked first.
	SessionPriority int `json:"session_priority" validate:"gte=0,lte=100"`
	// Steps is the escalation chain. Empty means one step: Target, no
	// filter, until the channel's own settings act.
	Steps []Step `json:"steps" validate:"max=10,dive"`
}

// Step is one link of the escalation chain.
type Step struct {
	// Target is where the session waits during this step; empty (no kind)
	// means Then.Target.
	Target Target `json:"target"`
	// Filter is a boolean expression over FilterEnv; only technicians for
	// whom it is true are offered the session. Empty means all of the
	// target's technicians.
	Filter string `json:"filter"`
	// Wait is how long this step lasts before the next one starts. It must
	// be positive except on the last step, where 0 means "until the
	// channel's own settings act" and a positive wait ends the rule's chain
	// (the channel's settings apply from then on).
	Wait time.Duration `json:"wait"`
}

// Target is a queue: technician groups, channels, or named technicians.
type Target struct {
	Kind TargetKind `json:"kind" validate:"omitempty,oneof=group channel technicians"`
	IDs  []int64    `json:"ids" validate:"max=100,dive,gt=0"`
}

// IsZero reports whether t is unset (a step inheriting Then.Target).
func (t Target) IsZero() bool { return t.Kind == "" && len(t.IDs) == 0 }

// stepJSON is Step on the wire: the wait is a Go duration string ("90s",
// "2m", "1h30m") or a number of seconds.
type stepJSON struct {
	Target Target          `json:"target"`
	Filter string          `json:"filter"`
	Wait   json.RawMessage `json:"wait,omitempty"`
}

// MarshalJSON writes the wait as a duration string.
func (s Step) MarshalJSON() ([]byte, error) {
	w, _ := json.Marshal(s.Wait.String())
	return json.Marshal(stepJSON{Target: s.Target, Filter: s.Filter, Wait: w})
}

// UnmarshalJSON reads the wait as a duration string or a number of seconds.
func (s *Step) UnmarshalJSON(b []byte) error {
	var j stepJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	wait, err := parseWait(j.Wait)
	if err != nil {
		return err
	}
	*s = Step{Target: j.Target, Filter: j.Filter, Wait: wait}
	return nil
}

func parseWait(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("step wait %q: want a duration such as \"90s\" or \"2m\"", s)
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		return 0, fmt.Errorf("step wait %s: want a duration such as \"90s\" or a number of seconds", raw)
	}
	if secs < 0 || secs > MaxStepWait.Seconds() {
		return 0, fmt.Errorf("step wait %s: want 0 to %d seconds", raw, int(MaxStepWait.Seconds()))
	}
	return time.Duration(secs * float64(time.Second)), nil
}
