package sessions_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/store/storetest"
)

func TestSetFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{Fields: sessions.Fields{CField: [6]string{"Alice"}, TrackingID: "CASE-1"}})
		if err != nil {
			t.Fatal(err)
		}
		case2 := "CASE-2"
		tests := []struct {
			name      string
			update    sessions.FieldUpdate
			wantField string // offending field, "" for success
		}{
			{"tracking and a custom field", sessions.FieldUpdate{TrackingID: &case2, CFields: map[int]string{3: "VIP"}}, ""},
			{"index out of range", sessions.FieldUpdate{CFields: map[int]string{6: "x"}}, "cfields[6]"},
			{"too long", sessions.FieldUpdate{CFields: map[int]string{1: strings.Repeat("x", 65)}}, "cfields[1]"},
			{"tracking too long", sessions.FieldUpdate{TrackingID: new(strings.Repeat("t", 257))}, "tracking_id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := w.svc.SetFields(ctx, c.Session.ID, tt.update)
				if tt.wantField == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				var fe *fault.Error
				if !errors.As(err, &fe) || fe.Fields[tt.wantField] == "" {
					t.Fatalf("err = %v, want a field error on %s", err, tt.wantField)
				}
			})
		}
		got, err := w.svc.Get(ctx, c.Session.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Fields.TrackingID != "CASE-2" || got.Fields.CField[3] != "VIP" || got.Fields.CField[0] != "Alice" || got.Fields.CField[1] != "" {
			t.Errorf("fields = %+v; refused updates must change nothing", got.Fields)
		}
		evs, _ := w.svc.Events(ctx, c.Session.ID)
		if evs[len(evs)-1].Type != "session.fields_changed" {
			t.Errorf("last event = %s, want session.fields_changed", evs[len(evs)-1].Type)
		}
	})
}

func TestRecordSurvey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		w := newWorld(t, db)
		c, err := w.svc.CreatePrivate(ctx, w.actor(w.techA1), sessions.PrivateInput{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.svc.RecordSurvey(ctx, c.Session.ID, "technician", []string{"solved", "5"}); err != nil {
			t.Fatal(err)
		}
		if err := w.svc.RecordSurvey(ctx, c.Session.ID, "technician", []string{"solved", "4", "fast"}); err != nil {
			t.Fatal(err)
		}
		got, err := w.svc.Survey(ctx, c.Session.ID, "technician")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"solved", "4", "fast"}) {
			t.Errorf("answers = %q, want the latest", got)
		}
		none, err := w.svc.Survey(ctx, c.Session.ID, "customer")
		if err != nil || len(none) != 0 {
			t.Errorf("customer survey = %q, %v; want empty", none, err)
		}
		for _, bad := range []struct {
			kind    string
			answers []string
			field   string
		}{
			{"boss", nil, "kind"},
			{"customer", make([]string, 11), "answers"},
		} {
			err := w.svc.RecordSurvey(ctx, c.Session.ID, bad.kind, bad.answers)
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Fields[bad.field] == "" {
				t.Errorf("RecordSurvey(%q, %d answers) = %v, want a field error on %s", bad.kind, len(bad.answers), err, bad.field)
			}
		}
		if err := w.svc.RecordSurvey(ctx, 999999, "customer", nil); !fault.IsKind(err, fault.NotFound) {
			t.Errorf("unknown session: %v, want not found", err)
		}
	})
}
