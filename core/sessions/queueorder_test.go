package sessions

import (
	"slices"
	"testing"
	"time"

	"github.com/tetherhq/tether/core/session"
)

func TestPickOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name string
		keys []waitingKey
		want []int64
	}{
		{"higher priority first, whatever the wait", []waitingKey{{0, at(0), 1}, {20, at(50), 2}, {5, at(10), 3}}, []int64{2, 3, 1}},
		{"same priority: longest waiting first", []waitingKey{{10, at(30), 1}, {10, at(5), 2}, {10, at(20), 3}}, []int64{2, 3, 1}},
		{"same priority and wait: older session first", []waitingKey{{0, at(7), 9}, {0, at(7), 4}}, []int64{4, 9}},
		{"no priorities: longest waiting first, not lowest ID", []waitingKey{{0, at(9), 1}, {0, at(1), 2}}, []int64{2, 1}},
		{"the highest priority is 100", []waitingKey{{99, at(0), 1}, {100, at(1), 2}}, []int64{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := slices.Clone(tt.keys)
			slices.SortFunc(keys, pickOrder)
			var got []int64
			for _, k := range keys {
				got = append(got, k.id)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSortQueue(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	entry := func(id int64, st session.State, prio, since int, dir string) QueueEntry {
		return QueueEntry{Session: Session{ID: id, State: st, Aggregate: &session.Session{State: st, StateSince: t0.Add(time.Duration(since) * time.Second)}},
			Priority: prio, Direction: dir}
	}
	tests := []struct {
		name  string
		queue []QueueEntry
		want  []int64
	}{
		{"waiting sessions in pick order before the others by ID", []QueueEntry{
			entry(1, session.Active, 0, 0, ""),
			entry(2, session.Waiting, 0, 10, ""),
			entry(3, session.Pending, 0, 0, ""),
			entry(4, session.Waiting, 30, 40, ""),
			entry(5, session.Waiting, 0, 5, ""),
		}, []int64{4, 5, 2, 1, 3}},
		{"a session transferred to the technician waits with the others", []QueueEntry{
			entry(1, session.Waiting, 10, 20, ""),
			entry(2, session.Transferring, 0, 0, "incoming"),
			entry(3, session.Waiting, 0, 30, ""),
		}, []int64{1, 2, 3}},
		{"an outgoing transfer is not the technician's to pick up", []QueueEntry{
			entry(1, session.Transferring, 0, 0, "outgoing"),
			entry(2, session.OnHold, 0, 0, ""),
			entry(3, session.Waiting, 0, 50, ""),
		}, []int64{3, 1, 2}},
		{"nothing waiting: by ID as before", []QueueEntry{
			entry(3, session.Active, 0, 0, ""),
			entry(1, session.Pending, 0, 0, ""),
			entry(2, session.OnHold, 0, 0, ""),
		}, []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slices.Clone(tt.queue)
			sortQueue(q)
			var got []int64
			for _, e := range q {
				got = append(got, e.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}
}
