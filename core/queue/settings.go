package queue

import (
	"maps"
	"time"

	"github.com/tetherhq/tether/core/fault"
)

// Names of the settings sections defined here; core/hub registers them.
const (
	TimeoutsSection     = "timeouts"      // Timeouts, per channel or technician group
	PresenceSection     = "presence"      // PresenceSettings, per technician group
	ChannelQueueSection = "channel_queue" // ChannelQueue, per channel, NoAllChannels (ORG-8)
	WorkingHoursSection = "working_hours" // WorkingHours, per channel and technician group
)

// Timeouts is the SESS-8 section: how long a session may stay in each
// pre-active state, how long an active session may stay silent, and when the
// console colours a waiting time.
type Timeouts struct {
	// CodeValidityMinutes is how long a private session's PIN can be used.
	CodeValidityMinutes int `json:"code_validity_minutes" validate:"gte=1,lte=10080"`
	// ConnectingMinutes ends a session still Connecting (terms not accepted,
	// form not posted) after this long.
	ConnectingMinutes int `json:"connecting_minutes" validate:"gte=1,lte=999"`
	// WaitingMinutes ends a session still Waiting after this long; 0 = never.
	WaitingMinutes int `json:"waiting_minutes" validate:"gte=0,lte=999"`
	// IdleMinutes ends an Active session with no action from either side
	// for this long; 0 = never. Waiting sessions are not Active.
	IdleMinutes int `json:"idle_minutes" validate:"gte=0,lte=999"`
	// AlarmConnectingSeconds colours a Connecting session in the console
	// once it has been connecting this long; 0 = no alarm colour.
	AlarmConnectingSeconds int `json:"alarm_connecting_seconds" validate:"gte=0,lte=86400"`
	// AlarmWaitingSeconds colours a Waiting session once it has waited this
	// long; 0 = no alarm colour.
	AlarmWaitingSeconds int `json:"alarm_waiting_seconds" validate:"gte=0,lte=86400"`
	// WarnBeforeTimeoutSeconds shows a session in red this long before it
	// times out (waiting or idle); 0 = no warning.
	WarnBeforeTimeoutSeconds int `json:"warn_before_timeout_seconds" validate:"gte=0,lte=86400"`
}

// DefaultTimeouts returns the defaults of the timeouts section.
func DefaultTimeouts() *Timeouts {
	return &Timeouts{
		CodeValidityMinutes:      20,
		ConnectingMinutes:        10,
		WaitingMinutes:           0,
		IdleMinutes:              0,
		AlarmConnectingSeconds:   60,
		AlarmWaitingSeconds:      120,
		WarnBeforeTimeoutSeconds: 60,
	}
}

// Validate checks the section's rules and reports every bad field at once.
func (t *Timeouts) Validate() error { return validateWith(t, nil) }

// TimeoutDurations are the Timeouts as durations; zero Waiting or Idle means
// never, as do zero alarms and warning.
type TimeoutDurations struct {
	CodeValidity    time.Duration
	Connecting      time.Duration
	Waiting         time.Duration
	Idle            time.Duration
	AlarmConnecting time.Duration
	AlarmWaiting    time.Duration
	WarnBefore      time.Duration
}

// Durations converts the section for the session aggregate and the timers.
func (t Timeouts) Durations() TimeoutDurations {
	return TimeoutDurations{
		CodeValidity:    time.Duration(t.CodeValidityMinutes) * time.Minute,
		Connecting:      time.Duration(t.ConnectingMinutes) * time.Minute,
		Waiting:         time.Duration(t.WaitingMinutes) * time.Minute,
		Idle:            time.Duration(t.IdleMinutes) * time.Minute,
		AlarmConnecting: time.Duration(t.AlarmConnectingSeconds) * time.Second,
		AlarmWaiting:    time.Duration(t.AlarmWaitingSeconds) * time.Second,
		WarnBefore:      time.Duration(t.WarnBeforeTimeoutSeconds) * time.Second,
	}
}

// PresenceSettings is the SESS-16 section of a technician group: how many
// sessions a technician may hold and when their status changes by itself.
type PresenceSettings struct {
	// MaxActiveSessions is the most sessions a technician may have active
	// at once; picking up (by hand or auto-start) beyond it is refused.
	MaxActiveSessions int `json:"max_active_sessions" validate:"gte=1,lte=100"`
	// BusyAbove shows a technician as Busy while they have more than this
	// many active sessions; 0 = never busy automatically. At most
	// MaxActiveSessions.
	BusyAbove int `json:"busy_above" validate:"gte=0,lte=100"`
	// AwayAfterIdleMinutes shows a technician as Away after this many
	// minutes without an action; 0 = never.
	AwayAfterIdleMinutes int `json:"away_after_idle_minutes" validate:"gte=0,lte=1440"`
	// SignOutAfterIdleMinutes treats a technician as signed out (Offline)
	// after this many minutes without an action; 0 = never.
	SignOutAfterIdleMinutes int `json:"sign_out_after_idle_minutes" validate:"gte=0,lte=1440"`
}

// DefaultPresenceSettings returns the defaults of the presence section.
func DefaultPresenceSettings() *PresenceSettings {
	return &PresenceSettings{MaxActiveSessions: 10}
}

// Validate checks the tags and that BusyAbove does not exceed MaxActiveSessions.
func (p *PresenceSettings) Validate() error {
	return validateWith(p, func(bad map[string]string) {
		if _, tagged := bad["busy_above"]; !tagged && p.BusyAbove > p.MaxActiveSessions {
			bad["busy_above"] = "must be at most max_active_sessions"
		}
	})
}

// AutoStartNoLimit is the auto_start_max_active value that starts sessions
// regardless of the technician's load (Q-2: "X = 10").
const AutoStartNoLimit = 10

// ChannelQueue is the section of a channel. It cannot be saved for
// all channels at once (ORG-8), since the target channel differs per channel.
type ChannelQueue struct {
	// AutoTransferEnabled moves a session still Waiting after
	// AutoTransferMinutes to AutoTransferChannelID.
	AutoTransferEnabled bool `json:"auto_transfer_enabled"`
	// AutoTransferMinutes is how long a session waits before it is moved.
	AutoTransferMinutes int `json:"auto_transfer_minutes" validate:"gte=1,lte=999"`
	// AutoTransferChannelID is the channel the session moves to; required
	// when auto-transfer is enabled.
	AutoTransferChannelID int64 `json:"auto_transfer_channel_id" validate:"gte=0"`
	// AutoStartEnabled starts a Waiting session with the least busy online
	// technician.
	AutoStartEnabled bool `json:"auto_start_enabled"`
	// AutoStartMaxActive starts a session only with a technician who has
	// fewer active sessions than this; 10 (AutoStartNoLimit) = regardless
	// of load. The group's max_active_sessions still applies.
	AutoStartMaxActive int `json:"auto_start_max_active" validate:"gte=1,lte=10"`
}

// DefaultChannelQueue returns the defaults: both features off.
func DefaultChannelQueue() *ChannelQueue {
	return &ChannelQueue{AutoTransferMinutes: 5, AutoStartMaxActive: AutoStartNoLimit}
}

// Validate checks the tags and that an enabled auto-transfer names its target.
func (c *ChannelQueue) Validate() error {
	return validateWith(c, func(bad map[string]string) {
		if _, tagged := bad["auto_transfer_channel_id"]; !tagged && c.AutoTransferEnabled && c.AutoTransferChannelID == 0 {
			bad["auto_transfer_channel_id"] = "is required when auto-transfer is enabled"
		}
	})
}

// validateWith runs v's validate tags, lets more collect cross-field
// failures, and returns every failure in one Invalid fault.
func validateWith(v any, more func(bad map[string]string)) error {
	bad := map[string]string{}
	if err := fault.Validate(v); err != nil {
		fe, ok := fault.As(err)
		if !ok {
			return err
		}
		maps.Copy(bad, fe.Fields)
	}
	if more != nil {
		more(bad)
	}
	if len(bad) == 0 {
		return nil
	}
	return fault.Fields(bad)
}
