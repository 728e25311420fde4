package queue

import (
	"maps"
	"testing"
	"time"
)

// local reads "2006-01-02 15:04" as wall-clock time in zone and returns the
// instant in UTC, so Open must convert it back.
func local(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

func utc(t *testing.T, s string) time.Time { return local(t, "UTC", s) }

func TestWorkingHoursOpen(t *testing.T) {
	office := WorkingHours{Enabled: true, TimeZone: "Europe/Paris", Start: "09:00", End: "17:00",
		Days: []string{"mon", "tue", "wed", "thu", "fri"}}
	night := WorkingHours{Enabled: true, TimeZone: "Europe/Paris", Start: "22:00", End: "06:00", Days: []string{"fri"}}
	with := func(w WorkingHours, start, end string, days ...string) WorkingHours {
		w.Start, w.End, w.Days = start, end, days
		return w
	}
	ny := WorkingHours{Enabled: true, TimeZone: "America/New_York", Start: "09:00", End: "17:00", Days: []string{"sun"}}

	tests := []struct {
		name string
		w    WorkingHours
		at   time.Time
		want bool
	}{
		// Fri 27, Sat 28, Sun 29 November 2026.
		{"disabled is always open", WorkingHours{TimeZone: "Europe/Paris", Start: "09:00", End: "10:00"}, utc(t, "2026-11-28 03:00"), true},
		{"before start", office, local(t, "Europe/Paris", "2026-11-27 08:59"), false},
		{"at start", office, local(t, "Europe/Paris", "2026-11-27 09:00"), true},
		{"last minute", office, local(t, "Europe/Paris", "2026-11-27 16:59"), true},
		{"end is exclusive", office, local(t, "Europe/Paris", "2026-11-27 17:00"), false},
		{"not a working day", office, local(t, "Europe/Paris", "2026-11-28 10:00"), false},
		{"zone, not UTC: 08:30 UTC is 09:30 in Paris", office, utc(t, "2026-11-27 08:30"), true},
		{"zone, not UTC: 16:30 UTC is 17:30 in Paris", office, utc(t, "2026-11-27 16:30"), false},

		{"overnight: before it opens", night, local(t, "Europe/Paris", "2026-11-27 21:59"), false},
		{"overnight: opens on its day", night, local(t, "Europe/Paris", "2026-11-27 22:00"), true},
		{"overnight: past midnight belongs to the day it started", night, local(t, "Europe/Paris", "2026-11-28 03:00"), true},
		{"overnight: closes next morning", night, local(t, "Europe/Paris", "2026-11-28 06:00"), false},
		{"overnight: next evening is not a window day", night, local(t, "Europe/Paris", "2026-11-28 22:30"), false},
		{"overnight: the morning of a window day is the previous night's", night, local(t, "Europe/Paris", "2026-11-27 03:00"), false},
		{"overnight: sunday window spills into monday", with(night, "22:00", "06:00", "sun"), local(t, "Europe/Paris", "2026-11-30 05:59"), true},
		{"overnight: saturday morning after a sunday-only window", with(night, "22:00", "06:00", "sun"), local(t, "Europe/Paris", "2026-11-28 05:00"), false},

		{"end 24:00 covers the last minute", with(office, "00:00", "24:00", "sat"), local(t, "Europe/Paris", "2026-11-28 23:59"), true},
		{"end 24:00 stops at midnight", with(office, "00:00", "24:00", "sat"), local(t, "Europe/Paris", "2026-11-29 00:00"), false},
		{"end 00:00 is midnight", with(office, "22:00", "00:00", "fri"), local(t, "Europe/Paris", "2026-11-27 23:59"), true},
		{"end 00:00 closes at midnight", with(office, "22:00", "00:00", "fri"), local(t, "Europe/Paris", "2026-11-28 00:00"), false},

		// Europe/Paris springs forward on Sunday 29 March 2026 at 02:00 CET -> 03:00 CEST.
		{"spring forward: before the gap", with(office, "02:30", "04:00", "sun"), utc(t, "2026-03-29 00:59"), false},
		{"spring forward: a start inside the gap opens when it ends", with(office, "02:30", "04:00", "sun"), utc(t, "2026-03-29 01:00"), true},
		{"spring forward: end on local time", with(office, "02:30", "04:00", "sun"), utc(t, "2026-03-29 02:00"), false},
		{"spring forward overnight: open late saturday", with(night, "22:00", "06:00", "sat"), utc(t, "2026-03-28 21:00"), true},
		{"spring forward overnight: 05:59 CEST is 03:59 UTC", with(night, "22:00", "06:00", "sat"), utc(t, "2026-03-29 03:59"), true},
		{"spring forward overnight: closes at 06:00 CEST = 04:00 UTC", with(night, "22:00", "06:00", "sat"), utc(t, "2026-03-29 04:00"), false},

		// Europe/Paris falls back on Sunday 25 October 2026 at 03:00 CEST -> 02:00 CET: 02:15 happens twice.
		{"fall back: first 02:15 (CEST)", with(office, "02:00", "02:30", "sun"), utc(t, "2026-10-25 00:15"), true},
		{"fall back: 02:45 CEST in between", with(office, "02:00", "02:30", "sun"), utc(t, "2026-10-25 00:45"), false},
		{"fall back: second 02:15 (CET)", with(office, "02:00", "02:30", "sun"), utc(t, "2026-10-25 01:15"), true},
		{"fall back: second 02:45 (CET)", with(office, "02:00", "02:30", "sun"), utc(t, "2026-10-25 01:45"), false},

		// New York: 09:00 local is 14:00 UTC in winter and 13:00 UTC from 8 March 2026.
		{"new york winter: 13:00 UTC is 08:00 EST", ny, utc(t, "2026-03-01 13:00"), false},
		{"new york winter: 14:00 UTC is 09:00 EST", ny, utc(t, "2026-03-01 14:00"), true},
		{"new york summer: 13:00 UTC is 09:00 EDT", ny, utc(t, "2026-03-08 13:00"), true},
		{"new york summer: 21:00 UTC is 17:00 EDT", ny, utc(t, "2026-03-08 21:00"), false},

		{"a broken setting fails open", WorkingHours{Enabled: true, TimeZone: "Mars/Olympus", Start: "09:00", End: "10:00", Days: []string{"mon"}},
			utc(t, "2026-11-28 03:00"), true},
		{"no days means closed", with(office, "09:00", "17:00"), local(t, "Europe/Paris", "2026-11-27 10:00"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Open(tt.at); got != tt.want {
				t.Errorf("Open(%s) = %v, want %v", tt.at.Format(time.RFC3339), got, tt.want)
			}
		})
	}
}

func TestWorkingHoursDecide(t *testing.T) {
	w := WorkingHours{Enabled: true, TimeZone: "UTC", Start: "09:00", End: "17:00", Days: []string{"fri"},
		DuringHoursNoTech: BehaviourEmail, OutsideHours: BehaviourEnd, EndURL: "https://example.com/closed"}
	open, closed := utc(t, "2026-11-27 10:00"), utc(t, "2026-11-27 18:00")
	tests := []struct {
		name      string
		w         WorkingHours
		at        time.Time
		available bool
		want      Behaviour
	}{
		{"open with a technician: queue it", w, open, true, BehaviourKeep},
		{"open without a technician", w, open, false, BehaviourEmail},
		{"closed, whoever is there", w, closed, true, BehaviourEnd},
		{"closed without a technician", w, closed, false, BehaviourEnd},
		{"disabled still applies the no-technician behaviour", func() WorkingHours { x := w; x.Enabled = false; return x }(), closed, false, BehaviourEmail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.Decide(tt.at, tt.available); got != tt.want {
				t.Errorf("Decide = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWorkingHoursValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*WorkingHours)
		want   map[string]string
	}{
		{"defaults", func(*WorkingHours) {}, nil},
		{"enabled overnight in a zone", func(w *WorkingHours) {
			w.Enabled, w.TimeZone, w.Start, w.End, w.Days = true, "America/New_York", "22:00", "06:00", []string{"sun", "sat"}
		}, nil},
		{"full day", func(w *WorkingHours) { w.Start, w.End = "00:00", "24:00" }, nil},
		{"unknown zone", func(w *WorkingHours) { w.TimeZone = "Europe/Atlantis" }, map[string]string{"time_zone": "is not a known time zone"}},
		{"server-dependent zone", func(w *WorkingHours) { w.TimeZone = "Local" }, map[string]string{"time_zone": "is not a known time zone"}},
		{"empty zone", func(w *WorkingHours) { w.TimeZone = "" }, map[string]string{"time_zone": "is required"}},
		{"bad times", func(w *WorkingHours) { w.Start, w.End = "9:00", "25:00" },
			map[string]string{"start": "must be a time of day as HH:MM, 00:00 to 23:59", "end": "must be a time of day as HH:MM, 00:00 to 24:00"}},
		{"start cannot be 24:00", func(w *WorkingHours) { w.Start = "24:00" }, map[string]string{"start": "must be a time of day as HH:MM, 00:00 to 23:59"}},
		{"minutes out of range", func(w *WorkingHours) { w.Start, w.End = "09:60", "24:01" },
			map[string]string{"start": "must be a time of day as HH:MM, 00:00 to 23:59", "end": "must be a time of day as HH:MM, 00:00 to 24:00"}},
		{"signs and spaces", func(w *WorkingHours) { w.Start, w.End = "+9:00", "1 :00" },
			map[string]string{"start": "must be a time of day as HH:MM, 00:00 to 23:59", "end": "must be a time of day as HH:MM, 00:00 to 24:00"}},
		{"empty window", func(w *WorkingHours) { w.Start, w.End = "09:00", "09:00" }, map[string]string{"end": "must differ from start"}},
		{"unknown day", func(w *WorkingHours) { w.Days = []string{"mon", "Tuesday"} }, map[string]string{"days": "must list days as mon, tue, wed, thu, fri, sat or sun"}},
		{"repeated day", func(w *WorkingHours) { w.Days = []string{"mon", "tue", "mon"} }, map[string]string{"days": "must not repeat a day"}},
		{"no day while enabled", func(w *WorkingHours) { w.Enabled, w.Days = true, nil },
			map[string]string{"days": "must list at least one day when working hours are enabled"}},
		{"no day while disabled is fine", func(w *WorkingHours) { w.Days = []string{} }, nil},
		{"unknown behaviours", func(w *WorkingHours) { w.DuringHoursNoTech, w.OutsideHours = "drop", "" },
			map[string]string{"during_hours_no_tech": "must be one of: keep, email, end", "outside_hours": "must be one of: keep, email, end"}},
		{"end needs a URL", func(w *WorkingHours) { w.OutsideHours = BehaviourEnd }, map[string]string{"end_url": "is required when a behaviour is end"}},
		{"end during hours needs a URL", func(w *WorkingHours) { w.DuringHoursNoTech = BehaviourEnd }, map[string]string{"end_url": "is required when a behaviour is end"}},
		{"end with a URL", func(w *WorkingHours) { w.OutsideHours, w.EndURL = BehaviourEnd, "https://example.com/closed?x=1" }, nil},
		{"not a web URL", func(w *WorkingHours) { w.OutsideHours, w.EndURL = BehaviourEnd, "javascript:alert(1)" },
			map[string]string{"end_url": "must be an http or https URL"}},
		{"relative URL", func(w *WorkingHours) { w.EndURL = "/closed" }, map[string]string{"end_url": "must be an http or https URL"}},
		{"email needs no URL", func(w *WorkingHours) { w.DuringHoursNoTech, w.OutsideHours = BehaviourEmail, BehaviourEmail }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := DefaultWorkingHours()
			tt.change(w)
			if got := fieldsOf(t, w.Validate()); !maps.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}
