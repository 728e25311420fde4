package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/plugintest"
)

// start builds this very package as a binary (once per test run) and runs
// it as the hub would, against a fake host.
func start(t *testing.T, host *plugintest.FakeHost) *sdk.Conn {
	t.Helper()
	bin := plugintest.Build(t, "github.com/tetherhq/tether/sdk/example/notes")
	return plugintest.Run(t, exec.Command(bin), host)
}

func closedEvent(id string, sessionID int64, config string) sdk.Event {
	return sdk.Event{
		ID: id, Seq: 7, Type: "session.closed", SessionID: sessionID,
		At: time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC), Payload: json.RawMessage(`{}`),
		UnitID: 3, Config: json.RawMessage(config), Attempt: 1,
	}
}

func TestNotes(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(sdk.Session{ID: 42, State: "closed", StateLabel: "Closed by technician",
		Technician: &sdk.Technician{ID: 9, Name: "Ada"}, WaitingSecs: 90, WorkSecs: 1110})
	host.PutSession(sdk.Session{ID: 43, State: "closed", StateLabel: "Closed by customer"})
	conn := start(t, host)
	ctx := context.Background()

	d, err := conn.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (sdk.Description{ID: "notes", Name: "Closing notes", Version: "1.0.0", Capabilities: []string{sdk.CapEvents}}); !reflect.DeepEqual(d, want) {
		t.Errorf("Describe = %+v, want %+v", d, want)
	}

	tests := []struct {
		name      string
		event     sdk.Event
		want      sdk.Outcome
		wantNotes map[int64][]string // after the event
	}{
		{"note with times", closedEvent("evt_1", 42, `{"prefix":"Helpdesk","include_times":true}`), sdk.Ack,
			map[int64][]string{42: {"Helpdesk: Closed by technician (Ada); waited 1m30s, worked 18m30s"}}},
		{"redelivery adds nothing", closedEvent("evt_1", 42, `{"prefix":"Helpdesk","include_times":true}`), sdk.Ack,
			map[int64][]string{42: {"Helpdesk: Closed by technician (Ada); waited 1m30s, worked 18m30s"}}},
		{"note without times", closedEvent("evt_2", 43, `{"prefix":"Helpdesk","include_times":false}`), sdk.Ack,
			map[int64][]string{43: {"Helpdesk: Closed by customer"}}},
		{"other event types are ignored", sdk.Event{ID: "evt_3", Type: "session.picked_up", SessionID: 43}, sdk.Ack,
			map[int64][]string{43: {"Helpdesk: Closed by customer"}}},
		{"bad settings fail for good", closedEvent("evt_4", 43, `{"prefix":""}`), sdk.Permanent,
			map[int64][]string{43: {"Helpdesk: Closed by customer"}}},
		{"unknown session fails for good", closedEvent("evt_5", 404, `{"prefix":"Helpdesk"}`), sdk.Permanent,
			map[int64][]string{404: nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := conn.HandleEvent(ctx, tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want {
				t.Fatalf("Result = %+v, want outcome %v", res, tt.want)
			}
			for id, want := range tt.wantNotes {
				if got := host.NotesFor(id); !slices.Equal(got, want) {
					t.Errorf("notes of session %d = %q, want %q", id, got, want)
				}
			}
		})
	}
	if got := host.MetricsEmitted(); len(got) != 2 || got[0].Name != "notes_added" || got[0].Kind != "counter" || got[0].Value != 1 {
		t.Errorf("metrics = %+v, want notes_added counted twice", got)
	}
}

func TestNotesRetriesWhenTheHubFails(t *testing.T) {
	host := plugintest.NewFakeHost()
	host.PutSession(sdk.Session{ID: 42, StateLabel: "Closed by technician"})
	conn := start(t, host)

	host.Fail("AddNote", errors.New("database is locked"))
	res, err := conn.HandleEvent(context.Background(), closedEvent("evt_1", 42, `{"prefix":"Helpdesk"}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != sdk.Retry || res.RetryAfter != 30*time.Second || !strings.Contains(res.Message, "database is locked") {
		t.Errorf("Result = %+v, want a retry in 30s with the hub's reason", res)
	}

	host.Fail("AddNote", nil) // the redelivery succeeds
	if res, err := conn.HandleEvent(context.Background(), closedEvent("evt_1", 42, `{"prefix":"Helpdesk"}`)); err != nil || res.Outcome != sdk.Ack {
		t.Fatalf("redelivery = %+v, %v", res, err)
	}
	if got := host.NotesFor(42); len(got) != 1 {
		t.Errorf("notes = %q, want one", got)
	}
}

func TestNotesConfigure(t *testing.T) {
	conn := start(t, plugintest.NewFakeHost())
	tests := []struct {
		settings   string
		wantFields map[string]string
	}{
		{`{"prefix":"Helpdesk","include_times":true}`, nil},
		{`{"include_times":true}`, map[string]string{"prefix": "required"}},
		{`{"prefix":"` + strings.Repeat("x", 81) + `"}`, map[string]string{"prefix": "must be at most 80 characters long"}},
		{`{"prefix":"Helpdesk","colour":"red"}`, map[string]string{"colour": "unknown setting"}},
	}
	for _, tt := range tests {
		err := conn.Configure(context.Background(), sdk.ConfigureRequest{UnitID: 3, Settings: json.RawMessage(tt.settings)})
		var ce *sdk.ConfigError
		switch {
		case tt.wantFields == nil && err != nil:
			t.Errorf("Configure(%s) = %v, want nil", tt.settings, err)
		case tt.wantFields != nil && (!errors.As(err, &ce) || !reflect.DeepEqual(ce.Fields, tt.wantFields)):
			t.Errorf("Configure(%s) = %v, want fields %v", tt.settings, err, tt.wantFields)
		}
	}
}

// The manifest's settings and Config's JSON keys are the same set, and the
// manifest's defaults pass Configure: one spec, no drift.
func TestManifestMatchesConfig(t *testing.T) {
	var keys []string
	defaults := map[string]any{}
	for _, s := range pluginManifest.Settings {
		keys = append(keys, s.Key)
		defaults[s.Key] = s.Default
	}
	var fields []string
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		name, _, _ := strings.Cut(ct.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	slices.Sort(keys)
	slices.Sort(fields)
	if !slices.Equal(keys, fields) {
		t.Errorf("plugin.json settings %v, Config fields %v", keys, fields)
	}
	raw, _ := json.Marshal(defaults)
	if err := (&Plugin{}).Configure(context.Background(), sdk.ConfigureRequest{Settings: raw}); err != nil {
		t.Errorf("the manifest's defaults %s fail Configure: %v", raw, err)
	}
}
