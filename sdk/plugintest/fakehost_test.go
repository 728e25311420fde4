package plugintest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tetherhq/tether/sdk"
)

func TestFakeHost(t *testing.T) {
	ctx := context.Background()
	h := NewFakeHost()
	h.PutSession(sdk.Session{ID: 1, Messages: []sdk.Message{{Seq: 1, Text: "a"}, {Seq: 2, Text: "b"}}})

	tests := []struct {
		name   string
		call   func() error
		wantIs error
	}{
		{"session", func() error { _, err := h.Session(ctx, 1, sdk.SessionOptions{}); return err }, nil},
		{"unknown session", func() error { _, err := h.Session(ctx, 2, sdk.SessionOptions{}); return err }, sdk.ErrNotFound},
		{"set fields of an unknown session", func() error { return h.SetFields(ctx, 2, sdk.FieldUpdate{}) }, sdk.ErrNotFound},
		{"custom field index out of range", func() error {
			return h.SetFields(ctx, 1, sdk.FieldUpdate{CFields: map[int]string{6: "x"}})
		}, sdk.ErrInvalid},
		{"absent key deletes fine", func() error { return h.KVDelete(ctx, "nope") }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if (tt.wantIs == nil) != (err == nil) || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
				t.Errorf("error = %v, want %v", err, tt.wantIs)
			}
		})
	}

	s, _ := h.Session(ctx, 1, sdk.SessionOptions{MessagesAfter: 1})
	if len(s.Messages) != 1 || s.Messages[0].Text != "b" {
		t.Errorf("MessagesAfter 1 = %+v", s.Messages)
	}
	if stored, _ := h.StoredSession(1); len(stored.Messages) != 2 {
		t.Error("reading with MessagesAfter changed the stored session")
	}

	_ = h.AddNote(ctx, 1, "first")
	_ = h.AddNote(ctx, 1, "second")
	_ = h.RecordSurvey(ctx, 1, sdk.Survey{Kind: "customer", Answers: []string{"5"}})
	_ = h.Metric(ctx, sdk.Metric{Name: "m", Kind: "gauge", Value: 2})
	if got := h.NotesFor(1); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("NotesFor = %q", got)
	}
	if got := h.SurveysFor(1); len(got) != 1 || got[0].Kind != "customer" {
		t.Errorf("SurveysFor = %+v", got)
	}
	if got := h.MetricsEmitted(); len(got) != 1 || got[0].Name != "m" {
		t.Errorf("MetricsEmitted = %+v", got)
	}
	created, _ := h.CreatePrivateSession(ctx, sdk.CreateSession{TechnicianID: 9})
	if got := h.SessionsCreated(); len(got) != 1 || got[0].TechnicianID != 9 {
		t.Errorf("SessionsCreated = %+v", got)
	}
	if _, ok := h.StoredSession(created.ID); !ok {
		t.Error("a created session cannot be read back")
	}
}

func TestFakeHostFail(t *testing.T) {
	ctx := context.Background()
	h := NewFakeHost()
	boom := errors.New("boom")
	calls := map[string]func() error{
		"Session":              func() error { _, err := h.Session(ctx, 1, sdk.SessionOptions{}); return err },
		"CreatePrivateSession": func() error { _, err := h.CreatePrivateSession(ctx, sdk.CreateSession{}); return err },
		"AddNote":              func() error { return h.AddNote(ctx, 1, "x") },
		"SetFields":            func() error { return h.SetFields(ctx, 1, sdk.FieldUpdate{}) },
		"RecordSurvey":         func() error { return h.RecordSurvey(ctx, 1, sdk.Survey{}) },
		"KVGet":                func() error { _, _, err := h.KVGet(ctx, "k"); return err },
		"KVSet":                func() error { return h.KVSet(ctx, "k", nil) },
		"KVDelete":             func() error { return h.KVDelete(ctx, "k") },
		"Metric":               func() error { return h.Metric(ctx, sdk.Metric{}) },
	}
	for name, call := range calls {
		h.Fail(name, boom)
		if err := call(); !errors.Is(err, boom) {
			t.Errorf("%s after Fail = %v, want boom", name, err)
		}
		h.Fail(name, nil)
		if err := call(); errors.Is(err, boom) {
			t.Errorf("%s after Fail(nil) still fails", name)
		}
	}
	if len(h.NotesFor(1)) != 1 || len(h.MetricsEmitted()) != 1 {
		t.Error("a failed call left a trace")
	}
}

// A zero FakeHost (not from NewFakeHost) takes injected failures too.
func TestZeroFakeHostFail(t *testing.T) {
	var h FakeHost
	h.Fail("Metric", errors.New("x"))
	if err := h.Metric(context.Background(), sdk.Metric{}); err == nil {
		t.Error("no injected error")
	}
}

func TestBuild(t *testing.T) {
	first := Build(t, "github.com/tetherhq/tether/sdk/example/notes")
	second := Build(t, "github.com/tetherhq/tether/sdk/example/notes")
	if first != second {
		t.Errorf("second Build = %s, want the cached %s", second, first)
	}
	if _, err := goBuild("github.com/tetherhq/tether/sdk/no/such/cmd"); err == nil {
		t.Error("building a missing package succeeded")
	}
}
