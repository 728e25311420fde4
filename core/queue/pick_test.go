package queue

import (
	"testing"
	"time"
)

func TestPickLeastBusy(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	tests := []struct {
		name      string
		cands     []Candidate
		maxActive int
		want      int64
		ok        bool
	}{
		{"nobody", nil, 10, 0, false},
		{"fewest active sessions", []Candidate{
			{1, StatusOnline, 2, at(0)}, {2, StatusOnline, 1, at(5)}, {3, StatusOnline, 3, at(0)},
		}, 10, 2, true},
		{"tie goes to the one idle longest", []Candidate{
			{1, StatusOnline, 1, at(5)}, {2, StatusOnline, 1, at(2)}, {3, StatusOnline, 1, at(9)},
		}, 10, 2, true},
		{"never active counts as idle longest", []Candidate{
			{1, StatusOnline, 0, at(5)}, {2, StatusOnline, 0, time.Time{}},
		}, 10, 2, true},
		{"full tie goes to the lowest id", []Candidate{
			{7, StatusOnline, 0, at(1)}, {4, StatusOnline, 0, at(1)}, {9, StatusOnline, 0, at(1)},
		}, 10, 4, true},
		{"busy, away and offline are left out", []Candidate{
			{1, StatusBusy, 0, at(0)}, {2, StatusAway, 0, at(0)}, {3, StatusOffline, 0, at(0)}, {4, StatusOnline, 4, at(9)},
		}, 10, 4, true},
		{"only busy and away: nobody", []Candidate{{1, StatusBusy, 0, at(0)}, {2, StatusAway, 0, at(0)}}, 10, 0, false},
		{"under the threshold", []Candidate{{1, StatusOnline, 1, at(0)}}, 2, 1, true},
		{"at the threshold: nobody", []Candidate{{1, StatusOnline, 2, at(0)}, {2, StatusOnline, 3, at(0)}}, 2, 0, false},
		{"threshold 1 means only idle technicians", []Candidate{{1, StatusOnline, 1, at(0)}, {2, StatusOnline, 0, at(5)}}, 1, 2, true},
		{"10 means regardless of load", []Candidate{{1, StatusOnline, 25, at(0)}}, AutoStartNoLimit, 1, true},
		{"threshold 9 still applies", []Candidate{{1, StatusOnline, 9, at(0)}}, 9, 0, false},
		{"threshold 0 (invalid) picks nobody", []Candidate{{1, StatusOnline, 0, at(0)}}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PickLeastBusy(tt.cands, tt.maxActive)
			if got != tt.want || ok != tt.ok {
				t.Errorf("PickLeastBusy = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEstimateWait(t *testing.T) {
	s := func(n int) time.Duration { return time.Duration(n) * time.Second }
	tests := []struct {
		name     string
		times    []time.Duration
		position int
		want     time.Duration
	}{
		{"no history: a minute per position", nil, 1, time.Minute},
		{"no history, third in line", nil, 3, 3 * time.Minute},
		{"not queued", []time.Duration{s(30)}, 0, 0},
		{"negative position", nil, -1, 0},
		{"average of one", []time.Duration{s(90)}, 1, s(90)},
		{"average times position", []time.Duration{s(60), s(120), s(180)}, 2, s(240)},
		{"rounded to the second", []time.Duration{s(1), s(2)}, 1, s(2)},
		{"sub-second average rounds", []time.Duration{400 * time.Millisecond}, 1, 0},
		{"negative samples are ignored", []time.Duration{-s(500), s(30)}, 2, s(60)},
		{"only bad samples fall back", []time.Duration{-s(1)}, 2, 2 * time.Minute},
		{"instant pick-ups", []time.Duration{0, 0}, 4, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EstimateWait(tt.times, tt.position); got != tt.want {
				t.Errorf("EstimateWait = %v, want %v", got, tt.want)
			}
		})
	}
}
