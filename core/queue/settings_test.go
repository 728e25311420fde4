package queue

import (
	"encoding/json"
	"maps"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	for name, v := range map[string]interface{ Validate() error }{
		"timeouts":      DefaultTimeouts(),
		"presence":      DefaultPresenceSettings(),
		"channel_queue": DefaultChannelQueue(),
		"working_hours": DefaultWorkingHours(),
	} {
		if err := v.Validate(); err != nil {
			t.Errorf("%s defaults: %v", name, err)
		}
	}
}

func TestTimeoutsDefaultsAndDurations(t *testing.T) {
	d := DefaultTimeouts()
	b, _ := json.Marshal(d)
	want := `{"code_validity_minutes":20,"connecting_minutes":10,"waiting_minutes":0,"idle_minutes":0,"alarm_connecting_seconds":60,"alarm_waiting_seconds":120,"warn_before_timeout_seconds":60}`
	if string(b) != want {
		t.Errorf("defaults JSON\n got %s\nwant %s", b, want)
	}
	got := Timeouts{CodeValidityMinutes: 20, ConnectingMinutes: 10, WaitingMinutes: 3, IdleMinutes: 999,
		AlarmConnectingSeconds: 60, AlarmWaitingSeconds: 120, WarnBeforeTimeoutSeconds: 30}.Durations()
	wantD := TimeoutDurations{CodeValidity: 20 * time.Minute, Connecting: 10 * time.Minute, Waiting: 3 * time.Minute,
		Idle: 999 * time.Minute, AlarmConnecting: time.Minute, AlarmWaiting: 2 * time.Minute, WarnBefore: 30 * time.Second}
	if got != wantD {
		t.Errorf("Durations = %+v, want %+v", got, wantD)
	}
	if z := DefaultTimeouts().Durations(); z.Waiting != 0 || z.Idle != 0 {
		t.Errorf("0 = never must stay zero, got %+v", z)
	}
}

func TestTimeoutsValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Timeouts)
		want   map[string]string
	}{
		{"defaults", func(*Timeouts) {}, nil},
		{"limits", func(x *Timeouts) {
			x.CodeValidityMinutes, x.ConnectingMinutes, x.WaitingMinutes, x.IdleMinutes = 10080, 999, 999, 999
			x.AlarmConnectingSeconds, x.AlarmWaitingSeconds, x.WarnBeforeTimeoutSeconds = 86400, 86400, 86400
		}, nil},
		{"code validity zero", func(x *Timeouts) { x.CodeValidityMinutes = 0 }, map[string]string{"code_validity_minutes": "must be at least 1"}},
		{"code validity above a week", func(x *Timeouts) { x.CodeValidityMinutes = 10081 }, map[string]string{"code_validity_minutes": "must be at most 10080"}},
		{"connecting zero", func(x *Timeouts) { x.ConnectingMinutes = 0 }, map[string]string{"connecting_minutes": "must be at least 1"}},
		{"waiting and idle too long", func(x *Timeouts) { x.WaitingMinutes, x.IdleMinutes = 1000, -1 },
			map[string]string{"waiting_minutes": "must be at most 999", "idle_minutes": "must be at least 0"}},
		{"alarms", func(x *Timeouts) {
			x.AlarmConnectingSeconds, x.AlarmWaitingSeconds, x.WarnBeforeTimeoutSeconds = -1, 86401, -5
		},
			map[string]string{"alarm_connecting_seconds": "must be at least 0", "alarm_waiting_seconds": "must be at most 86400",
				"warn_before_timeout_seconds": "must be at least 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := DefaultTimeouts()
			tt.change(x)
			if got := fieldsOf(t, x.Validate()); !maps.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPresenceSettingsValidate(t *testing.T) {
	tests := []struct {
		name string
		in   PresenceSettings
		want map[string]string
	}{
		{"defaults", *DefaultPresenceSettings(), nil},
		{"busy at max", PresenceSettings{MaxActiveSessions: 5, BusyAbove: 5, AwayAfterIdleMinutes: 1440, SignOutAfterIdleMinutes: 1440}, nil},
		{"busy above max", PresenceSettings{MaxActiveSessions: 5, BusyAbove: 6}, map[string]string{"busy_above": "must be at most max_active_sessions"}},
		{"max zero", PresenceSettings{MaxActiveSessions: 0}, map[string]string{"max_active_sessions": "must be at least 1"}},
		{"out of range reports the range, not the cross check", PresenceSettings{MaxActiveSessions: 10, BusyAbove: 101},
			map[string]string{"busy_above": "must be at most 100"}},
		{"idle limits", PresenceSettings{MaxActiveSessions: 101, AwayAfterIdleMinutes: 1441, SignOutAfterIdleMinutes: -1},
			map[string]string{"max_active_sessions": "must be at most 100", "away_after_idle_minutes": "must be at most 1440",
				"sign_out_after_idle_minutes": "must be at least 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldsOf(t, tt.in.Validate()); !maps.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChannelQueueValidate(t *testing.T) {
	tests := []struct {
		name string
		in   ChannelQueue
		want map[string]string
	}{
		{"defaults", *DefaultChannelQueue(), nil},
		{"auto-transfer with target", ChannelQueue{AutoTransferEnabled: true, AutoTransferMinutes: 999, AutoTransferChannelID: 7, AutoStartMaxActive: 1}, nil},
		{"auto-transfer without target", ChannelQueue{AutoTransferEnabled: true, AutoTransferMinutes: 5, AutoStartMaxActive: 10},
			map[string]string{"auto_transfer_channel_id": "is required when auto-transfer is enabled"}},
		{"disabled needs no target", ChannelQueue{AutoTransferMinutes: 5, AutoStartMaxActive: 10}, nil},
		{"ranges", ChannelQueue{AutoTransferMinutes: 0, AutoStartMaxActive: 11, AutoTransferChannelID: -1},
			map[string]string{"auto_transfer_minutes": "must be at least 1", "auto_start_max_active": "must be at most 10",
				"auto_transfer_channel_id": "must be at least 0"}},
		{"auto-start max zero", ChannelQueue{AutoTransferMinutes: 1, AutoStartEnabled: true, AutoStartMaxActive: 0},
			map[string]string{"auto_start_max_active": "must be at least 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fieldsOf(t, tt.in.Validate()); !maps.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v", got, tt.want)
			}
		})
	}
}

// Stored values are decoded onto the defaults (core/settings), so the JSON
// names are the contract; a missing field keeps its default.
func TestSectionJSONNames(t *testing.T) {
	cq := DefaultChannelQueue()
	if err := json.Unmarshal([]byte(`{"auto_transfer_enabled":true,"auto_transfer_channel_id":42}`), cq); err != nil {
		t.Fatal(err)
	}
	if !cq.AutoTransferEnabled || cq.AutoTransferChannelID != 42 || cq.AutoTransferMinutes != 5 || cq.AutoStartMaxActive != 10 {
		t.Errorf("decoded %+v", cq)
	}
	p := DefaultPresenceSettings()
	if err := json.Unmarshal([]byte(`{"busy_above":3,"away_after_idle_minutes":15,"sign_out_after_idle_minutes":60}`), p); err != nil {
		t.Fatal(err)
	}
	if *p != (PresenceSettings{MaxActiveSessions: 10, BusyAbove: 3, AwayAfterIdleMinutes: 15, SignOutAfterIdleMinutes: 60}) {
		t.Errorf("decoded %+v", p)
	}
}
