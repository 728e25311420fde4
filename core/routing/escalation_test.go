package routing

import (
	"testing"
	"time"
)

func TestEscalate(t *testing.T) {
	g := func(id int64) Target { return Target{Kind: TargetGroup, IDs: []int64{id}} }
	chain := Decision{Matched: true, Steps: []StepDecision{
		{Target: g(1), Wait: 2 * time.Minute},
		{Target: g(2), Wait: 5 * time.Minute},
		{Target: g(3), Wait: 10 * time.Minute},
	}}
	holds := Decision{Matched: true, Steps: []StepDecision{
		{Target: g(1), Wait: time.Minute},
		{Target: g(2)}, // last step, no wait: holds until the channel's settings act
	}}
	over := Escalation{Step: -1, ChannelSettings: true}
	for _, tc := range []struct {
		name   string
		d      Decision
		step   int
		waited time.Duration
		want   Escalation
	}{
		{"just matched", chain, 0, 0, Escalation{Step: 0, Target: g(1), NextIn: 2 * time.Minute}},
		{"within the first step", chain, 0, 90 * time.Second, Escalation{Step: 0, Target: g(1), NextIn: 30 * time.Second}},
		{"first wait elapsed", chain, 0, 2 * time.Minute, Escalation{Step: 1, Target: g(2), NextIn: 5 * time.Minute}},
		{"timer fired late", chain, 0, 3 * time.Minute, Escalation{Step: 1, Target: g(2), NextIn: 4 * time.Minute}},
		{"from step 1", chain, 1, time.Minute, Escalation{Step: 1, Target: g(2), NextIn: 4 * time.Minute}},
		{"two steps passed (restart)", chain, 0, 8 * time.Minute, Escalation{Step: 2, Target: g(3), NextIn: 9 * time.Minute}},
		{"last step ends", chain, 2, 10 * time.Minute, over},
		{"all steps over", chain, 0, time.Hour, over},
		{"negative wait", chain, 0, -time.Second, Escalation{Step: 0, Target: g(1), NextIn: 2 * time.Minute}},
		{"negative step", chain, -1, 0, Escalation{Step: 0, Target: g(1), NextIn: 2 * time.Minute}},
		{"step past the end", chain, 3, 0, over},
		{"last step without wait holds", holds, 0, time.Hour, Escalation{Step: 1, Target: g(2)}},
		{"no rule matched", Decision{}, 0, 0, over},
	} {
		if got := tc.d.Escalate(tc.step, tc.waited); !sameEscalation(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func sameEscalation(a, b Escalation) bool {
	return a.Step == b.Step && a.NextIn == b.NextIn && a.ChannelSettings == b.ChannelSettings &&
		a.Target.Kind == b.Target.Kind && len(a.Target.IDs) == len(b.Target.IDs) &&
		(len(a.Target.IDs) == 0 || a.Target.IDs[0] == b.Target.IDs[0])
}

func TestClockAt(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	c := ClockAt(time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC), paris, false)
	want := ClockEnv{Weekday: "fri", Hour: 0, Minute: 30, MinuteOfDay: 30, Date: "2027-01-01", TimeZone: "Europe/Paris"}
	if c != want {
		t.Errorf("ClockAt = %+v, want %+v", c, want)
	}
}
