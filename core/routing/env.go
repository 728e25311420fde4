package routing

import "time"

// The environment a rule sees. Every struct is flat (strings, numbers,
// booleans, one map of strings, short lists of strings or IDs) so that the
// VM reads fields without chasing pointers, and every field is named in
// snake_case through its expr tag. docs/routing.md lists each field with an
// example; keep the two in step.

// Env is what a rule's `when` predicate sees.
type Env struct {
	Session SessionEnv `expr:"session"`
	Clock   ClockEnv   `expr:"clock"`
	Queue   QueueEnv   `expr:"queue"`
}

// FilterEnv is what a step's technician filter sees: the session's
// environment and the candidate technician.
type FilterEnv struct {
	Session    SessionEnv    `expr:"session"`
	Clock      ClockEnv      `expr:"clock"`
	Queue      QueueEnv      `expr:"queue"`
	Technician TechnicianEnv `expr:"technician"`
}

// Session kinds, as SessionEnv.Kind.
const (
	SessionChannel = "channel"
	SessionPrivate = "private"
)

// SessionEnv is the waiting session.
type SessionEnv struct {
	// Kind is "channel" (started from a channel link) or "private" (PIN).
	Kind string `expr:"kind"`
	// ChannelID is the channel of a channel session, 0 for a private one.
	ChannelID int64 `expr:"channel_id"`
	// ChannelName is the channel's name, "" for a private session.
	ChannelName string `expr:"channel_name"`
	// GroupID is the technician group of a private session's technician, 0
	// for a channel session.
	GroupID int64 `expr:"group_id"`
	// Fields are the custom fields by their org-wide names ("Name",
	// "Product", ...); a missing name reads as "".
	Fields map[string]string `expr:"fields"`
	// CField0 to CField5 are the same fields by index; CField0 is the Name
	// field, as in the original product.
	CField0 string `expr:"cfield0"`
	CField1 string `expr:"cfield1"`
	CField2 string `expr:"cfield2"`
	CField3 string `expr:"cfield3"`
	CField4 string `expr:"cfield4"`
	CField5 string `expr:"cfield5"`
	// TrackingID is the integration's tracking ID, often a CRM ticket.
	TrackingID string `expr:"tracking_id"`
	// Platform is the customer's operating system as the client reports it
	// ("windows", "macos", "linux", "ios", "android").
	Platform string `expr:"platform"`
	// Language is the customer's language, a BCP 47 tag such as "fr" or "en-GB".
	Language string `expr:"language"`
	// ClientKind is how the customer joined: "applet", "web",
	// "calling_card" or "mobile".
	ClientKind string `expr:"client_kind"`
	// CallingCard is the calling card's name when ClientKind is
	// "calling_card", otherwise "".
	CallingCard string `expr:"calling_card"`
	// WaitingSeconds is how long the session has waited so far.
	WaitingSeconds int `expr:"waiting_seconds"`
	// TransferCount is how many times the session has been transferred.
	TransferCount int `expr:"transfer_count"`
}

// SetCFields fills CField0 to CField5 from an array of the six fields.
func (s *SessionEnv) SetCFields(f [6]string) {
	s.CField0, s.CField1, s.CField2, s.CField3, s.CField4, s.CField5 = f[0], f[1], f[2], f[3], f[4], f[5]
}

// ClockEnv is the moment of evaluation in the channel's (or, for a private
// session, the group's) time zone.
type ClockEnv struct {
	// Weekday is "mon" to "sun", the day names of working hours.
	Weekday string `expr:"weekday"`
	// Hour is 0 to 23.
	Hour int `expr:"hour"`
	// Minute is 0 to 59.
	Minute int `expr:"minute"`
	// MinuteOfDay is Hour*60+Minute, to compare with hm("08:30").
	MinuteOfDay int `expr:"minute_of_day"`
	// Date is the local date, "2026-12-24", for holidays.
	Date string `expr:"date"`
	// TimeZone is the IANA name the clock is read in.
	TimeZone string `expr:"time_zone"`
	// InWorkingHours says whether the channel's (or group's) working hours
	// are open now; always true when working hours are disabled.
	InWorkingHours bool `expr:"in_working_hours"`
}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ClockAt reads now in loc. The caller knows the unit's working hours and
// says whether they are open.
func ClockAt(now time.Time, loc *time.Location, inWorkingHours bool) ClockEnv {
	if loc == nil {
		loc = time.UTC
	}
	t := now.In(loc)
	return ClockEnv{
		Weekday:        weekdayNames[t.Weekday()],
		Hour:           t.Hour(),
		Minute:         t.Minute(),
		MinuteOfDay:    t.Hour()*60 + t.Minute(),
		Date:           t.Format(time.DateOnly),
		TimeZone:       loc.String(),
		InWorkingHours: inWorkingHours,
	}
}

// QueueEnv is what the queue knows when the session is routed.
type QueueEnv struct {
	// Waiting is the number of sessions waiting in the session's channel
	// (or group) queue, this one included.
	Waiting int `expr:"waiting"`
	// Available maps a technician group ID to the number of its technicians
	// who are online and could take a session now. Keys are int (not int64)
	// so that expressions can index with a literal: queue.available[12].
	Available map[int]int `expr:"available"`
	// AvailableTotal is the number of available technicians in all groups.
	AvailableTotal int `expr:"available_total"`
}

// MaxListLen bounds each list a technician carries (Skills, Languages,
// ChannelIDs). Closures such as any(technician.skills, {...}) iterate these
// lists, so the bound is part of the cost bound of every filter; the router
// excludes a candidate whose lists are longer (ReasonTooManyAttributes)
// rather than evaluate an unbounded filter.
const MaxListLen = 32

// TechnicianEnv is a candidate technician, as a step's filter sees it.
type TechnicianEnv struct {
	// ID is the technician's member ID.
	ID int64 `expr:"id"`
	// Name is the technician's display name.
	Name string `expr:"name"`
	// GroupID is the technician's group.
	GroupID int64 `expr:"group_id"`
	// ChannelIDs are the channels the technician takes sessions from
	// (through their group); the router uses them for channel targets.
	ChannelIDs []int64 `expr:"channel_ids"`
	// Skills are admin-edited skill names ("printers", "networking").
	Skills []string `expr:"skills"`
	// Languages are the languages the technician speaks ("en", "fr").
	Languages []string `expr:"languages"`
	// Status is the presence status: "online", "busy", "away" or "offline".
	Status string `expr:"status"`
	// ActiveSessions is how many sessions the technician is handling now.
	ActiveSessions int `expr:"active_sessions"`
	// IdleSeconds is how long the technician has had no active session.
	IdleSeconds int `expr:"idle_seconds"`
}
