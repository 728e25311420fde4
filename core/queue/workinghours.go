package queue

import (
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
	_ "time/tzdata" // time zones must resolve on hosts without a zoneinfo database (Windows, scratch images)
)

// Behaviour is what happens to a new session that no technician can take
// now.
type Behaviour string

const (
	// BehaviourKeep keeps the session waiting in its queue.
	BehaviourKeep Behaviour = "keep"
	// BehaviourEmail keeps it waiting and e-mails the technicians who could take it.
	BehaviourEmail Behaviour = "email"
	// BehaviourEnd ends it and sends the customer to the section's end_url.
	BehaviourEnd Behaviour = "end"
)

// weekdays are the day names of WorkingHours.Days, indexed by time.Weekday.
var weekdays = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// WorkingHours is the Q-3 section of a channel and the Q-4 section of a
// technician group (for its private sessions): when the unit is open, and
// what happens to a session that arrives when no technician can take it.
type WorkingHours struct {
	// Enabled turns working hours on; when false the unit is always open.
	Enabled bool `json:"enabled"`
	// TimeZone is the IANA name (e.g. "Europe/Paris") Start and End are read in.
	TimeZone string `json:"time_zone"`
	// Start is when the working day opens, "HH:MM" (00:00 to 23:59).
	Start string `json:"start"`
	// End is when it closes, "HH:MM" (00:00 to 24:00, both meaning
	// midnight); different from Start. An End before Start is an overnight
	// window that closes the next day.
	End string `json:"end"`
	// Days are the days a window starts on: "mon" to "sun", no repeats; at
	// least one when Enabled. The 22:00-06:00 window of "fri" runs into
	// Saturday morning.
	Days []string `json:"days"`
	// DuringHoursNoTech applies when a session arrives while open but no
	// technician can take it: keep, email or end.
	DuringHoursNoTech Behaviour `json:"during_hours_no_tech" validate:"oneof=keep email end"`
	// OutsideHours applies to every session arriving while closed.
	OutsideHours Behaviour `json:"outside_hours" validate:"oneof=keep email end"`
	// EndURL is where an ended customer is sent: an http or https URL,
	// required when either behaviour is "end".
	EndURL string `json:"end_url"`
}

// DefaultWorkingHours returns the defaults: disabled (always open), 09:00 to
// 17:00 UTC on weekdays, sessions kept waiting.
func DefaultWorkingHours() *WorkingHours {
	return &WorkingHours{
		TimeZone:          "UTC",
		Start:             "09:00",
		End:               "17:00",
		Days:              []string{"mon", "tue", "wed", "thu", "fri"},
		DuringHoursNoTech: BehaviourKeep,
		OutsideHours:      BehaviourKeep,
	}
}

// Validate checks every field and reports every bad one at once.
func (w *WorkingHours) Validate() error {
	return validateWith(w, func(bad map[string]string) {
		if w.TimeZone == "" {
			bad["time_zone"] = "is required"
		} else if _, err := location(w.TimeZone); err != nil {
			bad["time_zone"] = "is not a known time zone"
		}
		start, errStart := parseClock(w.Start, false)
		if errStart != nil {
			bad["start"] = "must be a time of day as HH:MM, 00:00 to 23:59"
		}
		end, errEnd := parseClock(w.End, true)
		if errEnd != nil {
			bad["end"] = "must be a time of day as HH:MM, 00:00 to 24:00"
		}
		if errStart == nil && errEnd == nil && start == end {
			bad["end"] = "must differ from start"
		}
		if why := checkDays(w.Days, w.Enabled); why != "" {
			bad["days"] = why
		}
		if w.EndURL != "" && !isWebURL(w.EndURL) {
			bad["end_url"] = "must be an http or https URL"
		} else if w.EndURL == "" && (w.DuringHoursNoTech == BehaviourEnd || w.OutsideHours == BehaviourEnd) {
			bad["end_url"] = "is required when a behaviour is end"
		}
	})
}

func checkDays(days []string, enabled bool) string {
	if enabled && len(days) == 0 {
		return "must list at least one day when working hours are enabled"
	}
	seen := map[string]bool{}
	for _, d := range days {
		if !slices.Contains(weekdays[:], d) {
			return "must list days as mon, tue, wed, thu, fri, sat or sun"
		}
		if seen[d] {
			return "must not repeat a day"
		}
		seen[d] = true
	}
	return ""
}

func isWebURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Open reports whether the unit is within working hours at now. Start and
// End are wall-clock times in TimeZone, so a window keeps its local hours
// across daylight-saving changes: on a spring-forward night a window from
// 02:30 opens at 03:00, and the repeated hour of an autumn night is inside
// a window that covers it both times.
//
// An invalid section (refused on save, so only a hand-edited row) counts as
// open: a broken setting must not turn customers away.
func (w WorkingHours) Open(now time.Time) bool {
	if !w.Enabled {
		return true
	}
	loc, err := location(w.TimeZone)
	if err != nil {
		return true
	}
	start, err1 := parseClock(w.Start, false)
	end, err2 := parseClock(w.End, true)
	if err1 != nil || err2 != nil || start == end {
		return true
	}
	t := now.In(loc)
	minute := t.Hour()*60 + t.Minute()
	today := slices.Contains(w.Days, weekdays[t.Weekday()])
	if start < end {
		return today && minute >= start && minute < end
	}
	yesterday := slices.Contains(w.Days, weekdays[(t.Weekday()+6)%7])
	return (today && minute >= start) || (yesterday && minute < end)
}

// Decide says what to do with a session arriving at now: outside working
// hours the OutsideHours behaviour, whoever is available; within them
// DuringHoursNoTech when no technician can take it, else keep (queue it).
func (w WorkingHours) Decide(now time.Time, technicianAvailable bool) Behaviour {
	switch {
	case !w.Open(now):
		return w.OutsideHours
	case technicianAvailable:
		return BehaviourKeep
	default:
		return w.DuringHoursNoTech
	}
}

// parseClock reads "HH:MM" as minutes after midnight; "24:00" only if end.
func parseClock(s string, end bool) (int, error) {
	if len(s) != 5 || s[2] != ':' || !isDigits(s[:2]) || !isDigits(s[3:]) {
		return 0, &clockError{s}
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	minutes := h*60 + m
	if m > 59 || h > 24 || (h == 24 && (!end || m != 0)) {
		return 0, &clockError{s}
	}
	return minutes, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type clockError struct{ s string }

func (e *clockError) Error() string { return "not a time of day as HH:MM: " + strconv.Quote(e.s) }

var locations sync.Map // name -> *time.Location

// location loads an IANA zone once; "Local" is refused because it would
// depend on the server's configuration, not on the admin's choice.
func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	if name == "" || name == "Local" {
		return nil, &zoneError{name}
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, loc)
	return loc, nil
}

type zoneError struct{ name string }

func (e *zoneError) Error() string { return "unknown time zone " + strconv.Quote(e.name) }
