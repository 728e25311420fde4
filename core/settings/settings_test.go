package settings_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/store/storetest"
)

// queueSettings stands for auto-start / auto-transfer: it cannot
// be saved for all channels. Priority plays a field added in a later version.
type queueSettings struct {
	AutoStart           bool        `json:"auto_start"`
	AutoTransferSeconds int         `json:"auto_transfer_seconds" validate:"gte=0,lte=3600"`
	Exceptions          []exception `json:"exceptions" validate:"dive"`
	Priority            int         `json:"priority" validate:"gte=1,lte=9"`
}

type exception struct {
	Network string `json:"network" validate:"required,ip"`
	Mask    string `json:"mask" validate:"required,ip"`
}

// passwordSettings stands for the organisation's password policy.
type passwordSettings struct {
	MinLength int `json:"min_length" validate:"gte=8,lte=64"`
}

type welcomeSettings struct {
	Text string `json:"text" validate:"max=50"`
}

func defaultQueue() *queueSettings {
	return &queueSettings{AutoTransferSeconds: 120, Exceptions: []exception{}, Priority: 5}
}

func testRegistry(t *testing.T) *settings.Registry {
	t.Helper()
	r := &settings.Registry{}
	for _, s := range []settings.Section{
		{
			Name: "queue", Title: "Queue",
			Kinds:         []settings.UnitKind{settings.Org, settings.TechGroup, settings.Technician, settings.Channel},
			New:           func() any { return defaultQueue() },
			NoAllChannels: true,
			Validate: func(v any) error {
				if q := v.(*queueSettings); q.AutoStart && q.AutoTransferSeconds == 0 {
					return fault.Field("auto_transfer_seconds", "must be set when auto_start is on")
				}
				return nil
			},
		},
		{
			Name: "password", Title: "Password policy",
			Kinds:      []settings.UnitKind{settings.Org},
			New:        func() any { return &passwordSettings{MinLength: 8} },
			MasterOnly: true,
		},
		{
			Name: "welcome", Title: "Welcome text",
			Kinds: []settings.UnitKind{settings.Org, settings.Channel},
			New:   func() any { return &welcomeSettings{Text: "Hello"} },
		},
	} {
		if err := r.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

var testNow = time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)

func newService(t *testing.T, db *bun.DB, tree settings.Tree) *settings.Service {
	t.Helper()
	seedNodes(t, db)
	return &settings.Service{DB: db, Tree: tree, Registry: testRegistry(t), Now: func() time.Time { return testNow }}
}

func save(t *testing.T, svc *settings.Service, unit int64, section, value string) {
	t.Helper()
	_, err := svc.Save(context.Background(), settings.SaveRequest{
		UnitID: unit, Section: section, Mode: settings.ModeUnit, Value: json.RawMessage(value),
		ActorID: master, ActorIsMaster: true,
	})
	if err != nil {
		t.Fatalf("save %s on %d: %v", section, unit, err)
	}
}

type storedKey struct {
	unit    int64
	section string
}

// stored returns every settings row as unit/section -> value.
func stored(t *testing.T, db *bun.DB) map[storedKey]string {
	t.Helper()
	var rows []struct {
		UnitID  int64  `bun:"unit_id"`
		Section string `bun:"section"`
		Value   string `bun:"value"`
	}
	if err := db.NewRaw("SELECT unit_id, section, value FROM settings").Scan(context.Background(), &rows); err != nil {
		t.Fatalf("read settings: %v", err)
	}
	out := map[storedKey]string{}
	for _, r := range rows {
		out[storedKey{r.UnitID, r.Section}] = r.Value
	}
	return out
}

func storedUnits(t *testing.T, db *bun.DB, section string) []int64 {
	t.Helper()
	var out []int64
	for k := range stored(t, db) {
		if k.section == section {
			out = append(out, k.unit)
		}
	}
	slices.Sort(out)
	return out
}

func wantFault(t *testing.T, err error, kind fault.Kind, code string, fields map[string]string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok {
		t.Fatalf("error = %v, want fault %s", err, code)
	}
	if fe.Kind != kind || fe.Code != code {
		t.Fatalf("fault = kind %d code %q (%v), want kind %d code %q", fe.Kind, fe.Code, fe, kind, code)
	}
	if fields != nil && !maps.Equal(fe.Fields, fields) {
		t.Fatalf("fields = %v, want %v", fe.Fields, fields)
	}
}

type unitValue struct {
	unit    int64
	section string
	value   string
}

func TestEffective(t *testing.T) {
	withQueue := func(f func(q *queueSettings)) *queueSettings {
		q := defaultQueue()
		f(q)
		return q
	}
	tests := []struct {
		name       string
		saves      []unitValue
		raw        []unitValue // written straight to the table, as an older version would have
		unit       int64
		section    string
		wantSource int64 // 0: the default applies
		want       any
	}{
		{
			name: "default when nothing saved", unit: tech1, section: "queue",
			want: defaultQueue(),
		},
		{
			name:  "technician inherits from the group three levels up",
			saves: []unitValue{{1, "queue", `{"priority":2}`}, {2, "queue", `{"priority":3}`}},
			unit:  tech1, section: "queue", wantSource: groupA,
			want: withQueue(func(q *queueSettings) { q.Priority = 3 }),
		},
		{
			name:  "group inherits from the organisation",
			saves: []unitValue{{1, "queue", `{"priority":2}`}},
			unit:  groupA1a, section: "queue", wantSource: orgID,
			want: withQueue(func(q *queueSettings) { q.Priority = 2 }),
		},
		{
			name:  "own value overrides the ancestors'",
			saves: []unitValue{{2, "queue", `{"priority":3}`}, {4, "queue", `{"priority":4}`}},
			unit:  groupA1a, section: "queue", wantSource: groupA1a,
			want: withQueue(func(q *queueSettings) { q.Priority = 4 }),
		},
		{
			name:  "sibling's value does not apply",
			saves: []unitValue{{7, "queue", `{"priority":3}`}},
			unit:  groupA1, section: "queue",
			want: defaultQueue(),
		},
		{
			name:  "channel inherits from the organisation",
			saves: []unitValue{{1, "welcome", `{"text":"Hi"}`}, {10, "welcome", `{"text":"Other"}`}},
			unit:  chan1, section: "welcome", wantSource: orgID,
			want: &welcomeSettings{Text: "Hi"},
		},
		{
			name: "stored value missing a newer field gets its default",
			raw:  []unitValue{{2, "queue", `{"auto_transfer_seconds":30}`}},
			unit: tech1, section: "queue", wantSource: groupA,
			want: withQueue(func(q *queueSettings) { q.AutoTransferSeconds = 30 }),
		},
		{
			name: "stored field since removed is ignored",
			raw:  []unitValue{{2, "queue", `{"priority":2,"retired":true}`}},
			unit: groupA, section: "queue", wantSource: groupA,
			want: withQueue(func(q *queueSettings) { q.Priority = 2 }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				svc := newService(t, db, newTree())
				for _, s := range tt.saves {
					save(t, svc, s.unit, s.section, s.value)
				}
				for _, r := range tt.raw {
					_, err := db.NewRaw("INSERT INTO settings (unit_id, section, value, updated_at) VALUES (?, ?, ?, ?)",
						r.unit, r.section, r.value, testNow).Exec(ctx)
					if err != nil {
						t.Fatal(err)
					}
				}
				e, err := svc.Effective(ctx, tt.unit, tt.section)
				if err != nil {
					t.Fatal(err)
				}
				if e.Section != tt.section || e.Unit.ID != tt.unit {
					t.Errorf("section/unit = %s/%d, want %s/%d", e.Section, e.Unit.ID, tt.section, tt.unit)
				}
				switch {
				case tt.wantSource == 0 && e.Source != nil:
					t.Errorf("source = %+v, want the default", *e.Source)
				case tt.wantSource != 0 && (e.Source == nil || e.Source.ID != tt.wantSource):
					t.Errorf("source = %+v, want unit %d", e.Source, tt.wantSource)
				}
				if own := tt.wantSource == tt.unit; e.Own != own {
					t.Errorf("own = %v, want %v", e.Own, own)
				}
				if !reflect.DeepEqual(e.Value, tt.want) {
					t.Errorf("value = %+v, want %+v", e.Value, tt.want)
				}
			})
		})
	}
}

func TestEffectiveJSON(t *testing.T) {
	src := settings.Unit{ID: groupA, Kind: settings.TechGroup, Name: "A"}
	e := settings.Effective{
		Section: "queue", Unit: settings.Unit{ID: tech1, Kind: settings.Technician, Name: "t1"},
		Value: &welcomeSettings{Text: "Hi"}, Source: &src,
	}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"section":"queue","unit":{"id":5,"kind":"technician","name":"t1"},"value":{"text":"Hi"},` +
		`"inherited_from":{"id":2,"kind":"tech_group","name":"A"},"own":false}`
	if string(got) != want {
		t.Errorf("json = %s\nwant   %s", got, want)
	}
}

func TestEffectiveRefusals(t *testing.T) {
	tests := []struct {
		name    string
		unit    int64
		section string
		kind    fault.Kind
		code    string
		fields  map[string]string
	}{
		{"unknown section", groupA, "nope", fault.NotFound, "section_not_found", nil},
		{"org-only section on a group", groupA, "password", fault.Invalid, "validation_failed",
			map[string]string{"section": `"password" cannot be set on a unit of kind tech_group`}},
		{"unit of a kind without settings", master, "queue", fault.Invalid, "validation_failed",
			map[string]string{"section": `"queue" cannot be set on a unit of kind master`}},
		{"unknown unit", 404, "queue", fault.NotFound, "unit_not_found", nil},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc := newService(t, db, newTree())
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := svc.Effective(context.Background(), tt.unit, tt.section)
				wantFault(t, err, tt.kind, tt.code, tt.fields)
			})
		}
	})
}

func TestAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		save(t, svc, orgID, "welcome", `{"text":"Hi"}`)
		save(t, svc, chan1, "queue", `{"priority":9}`)
		tests := []struct {
			unit int64
			want []string // section:source
		}{
			{orgID, []string{"password:0", "queue:0", "welcome:1"}},
			{groupA, []string{"queue:0"}},
			{chan1, []string{"queue:9", "welcome:1"}},
			{master, []string{}},
		}
		for _, tt := range tests {
			all, err := svc.All(ctx, tt.unit)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, e := range all {
				var src int64
				if e.Source != nil {
					src = e.Source.ID
				}
				got = append(got, fmt.Sprintf("%s:%d", e.Section, src))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("All(%d) = %v, want %v", tt.unit, got, tt.want)
			}
		}
	})
}

func TestGetAndLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		save(t, svc, groupA, "queue", `{"auto_start":true,"priority":7}`)

		q, err := settings.Get[queueSettings](ctx, svc, tech1, "queue")
		if err != nil {
			t.Fatal(err)
		}
		want := defaultQueue()
		want.AutoStart, want.Priority = true, 7
		if !reflect.DeepEqual(&q, want) {
			t.Errorf("Get = %+v, want %+v", q, *want)
		}

		var w welcomeSettings
		if err := svc.Load(ctx, tech1, "queue", &w); err == nil {
			t.Error("Load into the wrong type succeeded")
		}
		if _, err := settings.Get[queueSettings](ctx, svc, tech1, "nope"); !fault.IsKind(err, fault.NotFound) {
			t.Errorf("Get of an unknown section = %v, want NotFound", err)
		}
	})
}

func TestSaveTargets(t *testing.T) {
	groupsOfA := func(u settings.Unit) bool { return slices.Contains([]int64{groupA, groupA1, groupA1a, groupA2}, u.ID) }
	tests := []struct {
		name    string
		unit    int64
		section string
		mode    settings.Mode
		inScope func(settings.Unit) bool
		want    []int64
	}{
		{"unit writes the unit only", groupA1, "queue", settings.ModeUnit, nil, []int64{groupA1}},
		{"subtree writes the group, its subgroups and their technicians, not siblings", groupA, "queue", settings.ModeSubtree, nil,
			[]int64{groupA, groupA1, groupA1a, tech1, groupA2}},
		{"subtree skips units out of scope", groupA1, "queue", settings.ModeSubtree,
			func(u settings.Unit) bool { return u.ID != tech1 }, []int64{groupA1, groupA1a}},
		{"subtree of a channel is the channel", chan1, "queue", settings.ModeSubtree, nil, []int64{chan1}},
		{"all writes every group in scope only", groupA1, "queue", settings.ModeAll, groupsOfA,
			[]int64{groupA, groupA1, groupA1a, groupA2}},
		{"all writes every group of the organisation", groupA1, "queue", settings.ModeAll, nil,
			[]int64{groupA, groupA1, groupA1a, groupA2, groupB}},
		{"all writes every technician", tech1, "queue", settings.ModeAll, nil, []int64{tech1, tech2}},
		{"all channels for a section that allows it", chan2, "welcome", settings.ModeAll, nil, []int64{chan1, chan2}},
		{"all for the organisation is the organisation", orgID, "password", settings.ModeAll, nil, []int64{orgID}},
	}
	values := map[string]string{"queue": `{"priority":8}`, "password": `{"min_length":12}`, "welcome": `{"text":"Yo"}`}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				svc := newService(t, db, newTree())
				got, err := svc.Save(ctx, settings.SaveRequest{
					UnitID: tt.unit, Section: tt.section, Mode: tt.mode, Value: json.RawMessage(values[tt.section]),
					ActorID: master, ActorIsMaster: true, InScope: tt.inScope,
				})
				if err != nil {
					t.Fatal(err)
				}
				if got[0].ID != tt.unit {
					t.Errorf("first target = %d, want the unit %d", got[0].ID, tt.unit)
				}
				if !slices.Equal(ids(got), tt.want) {
					t.Errorf("targets = %v, want %v", ids(got), tt.want)
				}
				if s := storedUnits(t, db, tt.section); !slices.Equal(s, tt.want) {
					t.Errorf("stored for %v, want %v", s, tt.want)
				}
				var rows []struct {
					UpdatedAt time.Time `bun:"updated_at"`
					UpdatedBy int64     `bun:"updated_by"`
				}
				if err := db.NewRaw("SELECT updated_at, updated_by FROM settings").Scan(ctx, &rows); err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if !r.UpdatedAt.Equal(testNow) || r.UpdatedBy != master {
						t.Errorf("row updated %v by %d, want %v by %d", r.UpdatedAt, r.UpdatedBy, testNow, master)
					}
				}
			})
		})
	}
}

func TestSaveOverwrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		save(t, svc, groupA1, "queue", `{"priority":2}`)
		if _, err := svc.Save(ctx, settings.SaveRequest{
			UnitID: groupA, Section: "queue", Mode: settings.ModeSubtree, Value: json.RawMessage(`{"priority":3}`),
		}); err != nil {
			t.Fatal(err)
		}
		q, err := settings.Get[queueSettings](ctx, svc, groupA1, "queue")
		if err != nil {
			t.Fatal(err)
		}
		if q.Priority != 3 {
			t.Errorf("priority = %d, want 3 from the subtree save", q.Priority)
		}
		var by []any
		if err := db.NewRaw("SELECT updated_by FROM settings WHERE unit_id = ?", groupA1).Scan(ctx, &by); err != nil {
			t.Fatal(err)
		}
		if len(by) != 1 || by[0] != nil {
			t.Errorf("updated_by = %v, want NULL for no actor", by)
		}
	})
}

func TestSaveRefusals(t *testing.T) {
	const valid = `{"priority":8}`
	onlyB := func(u settings.Unit) bool { return u.ID == groupB }
	tests := []struct {
		name   string
		req    settings.SaveRequest
		kind   fault.Kind
		code   string
		fields map[string]string
	}{
		{
			name: "all channels refused for auto-start and auto-transfer",
			req:  settings.SaveRequest{UnitID: chan1, Section: "queue", Mode: settings.ModeAll, Value: json.RawMessage(valid)},
			kind: fault.Invalid, code: "validation_failed",
			fields: map[string]string{"mode": "Queue cannot be saved for all channels at once; save it channel by channel"},
		},
		{
			name: "unknown mode",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: "everything", Value: json.RawMessage(valid)},
			kind: fault.Invalid, code: "validation_failed", fields: map[string]string{"mode": "must be one of: unit, subtree, all"},
		},
		{
			name: "unknown field",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`{"priority":8,"colour":"red"}`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"colour": "is not a known field"},
		},
		{
			name: "unknown nested field",
			req: settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit,
				Value: json.RawMessage(`{"exceptions":[{"network":"5.5.5.5","mask":"255.255.255.255","port":1}]}`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"exceptions[0].port": "is not a known field"},
		},
		{
			name: "wrong type",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`{"auto_transfer_seconds":"soon"}`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"auto_transfer_seconds": "must be a number"},
		},
		{
			name: "wrong type in a list",
			req: settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit,
				Value: json.RawMessage(`{"exceptions":[{"network":"5.5.5.5","mask":"255.0.0.0"},{"network":"5.5.5.5","mask":32}]}`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"exceptions[1].mask": "must be a string"},
		},
		{
			name: "fraction for a whole number",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`{"priority":1.5}`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"priority": "must be a whole number"},
		},
		{
			name: "validator failure",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeSubtree, Value: json.RawMessage(`{"auto_transfer_seconds":5000}`)},
			kind: fault.Invalid, code: "validation_failed", fields: map[string]string{"auto_transfer_seconds": "must be at most 3600"},
		},
		{
			name: "validator failure in a list",
			req: settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit,
				Value: json.RawMessage(`{"exceptions":[{"network":"five","mask":"255.0.0.0"}]}`)},
			kind: fault.Invalid, code: "validation_failed", fields: map[string]string{"exceptions[0].network": "must be an IP address"},
		},
		{
			name: "section's own check",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`{"auto_start":true,"auto_transfer_seconds":0}`)},
			kind: fault.Invalid, code: "validation_failed", fields: map[string]string{"auto_transfer_seconds": "must be set when auto_start is on"},
		},
		{
			name: "not JSON",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`{"priority":`)},
			kind: fault.BadRequest, code: "invalid_json", fields: map[string]string{"value": "is not valid JSON"},
		},
		{
			name: "not an object",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`[8]`)},
			kind: fault.BadRequest, code: "validation_failed", fields: map[string]string{"value": "must be an object"},
		},
		{
			name: "no value",
			req:  settings.SaveRequest{UnitID: groupA, Section: "queue", Mode: settings.ModeUnit, Value: json.RawMessage(`null`)},
			kind: fault.Invalid, code: "validation_failed", fields: map[string]string{"value": "is required"},
		},
		{
			name: "unit out of scope",
			req:  settings.SaveRequest{UnitID: groupA1, Section: "queue", Mode: settings.ModeSubtree, Value: json.RawMessage(valid), InScope: onlyB},
			kind: fault.Forbidden, code: "out_of_scope",
		},
		{
			name: "master-only section by an ordinary admin",
			req:  settings.SaveRequest{UnitID: orgID, Section: "password", Mode: settings.ModeUnit, Value: json.RawMessage(`{"min_length":10}`)},
			kind: fault.Forbidden, code: "master_only",
		},
		{
			name: "unknown section",
			req:  settings.SaveRequest{UnitID: groupA, Section: "nope", Mode: settings.ModeUnit, Value: json.RawMessage(valid)},
			kind: fault.NotFound, code: "section_not_found",
		},
		{
			name: "section not for the unit's kind",
			req:  settings.SaveRequest{UnitID: groupA, Section: "password", Mode: settings.ModeUnit, Value: json.RawMessage(`{"min_length":10}`), ActorIsMaster: true},
			kind: fault.Invalid, code: "validation_failed",
			fields: map[string]string{"section": `"password" cannot be set on a unit of kind tech_group`},
		},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc := newService(t, db, newTree())
		save(t, svc, groupA, "queue", `{"priority":2}`)
		save(t, svc, orgID, "password", `{"min_length":9}`)
		before := stored(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				targets, err := svc.Save(context.Background(), tt.req)
				wantFault(t, err, tt.kind, tt.code, tt.fields)
				if targets != nil {
					t.Errorf("targets = %v, want none", targets)
				}
				if after := stored(t, db); !maps.Equal(after, before) {
					t.Errorf("stored changed:\n%v\nwant\n%v", after, before)
				}
			})
		}
	})
}

func TestSaveIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc := newService(t, db, newTreeWithGhost())
		_, err := svc.Save(context.Background(), settings.SaveRequest{
			UnitID: groupB, Section: "queue", Mode: settings.ModeSubtree, Value: json.RawMessage(`{"priority":8}`),
		})
		if err == nil {
			t.Fatal("save to a unit missing from the database succeeded")
		}
		if _, ok := fault.As(err); ok {
			t.Errorf("a storage failure came back as a user fault: %v", err)
		}
		if s := storedUnits(t, db, "queue"); len(s) != 0 {
			t.Errorf("stored for %v, want nothing", s)
		}
	})
}

func TestReset(t *testing.T) {
	tests := []struct {
		name       string
		unit       int64
		section    string
		inScope    func(settings.Unit) bool
		code       string // "" when the reset succeeds
		wantSource int64  // after the reset; 0: the default
	}{
		{name: "own value removed, inherits again", unit: groupA1, section: "queue", wantSource: groupA},
		{name: "nothing of its own is fine", unit: groupA1a, section: "queue", wantSource: groupA1},
		{name: "back to the default", unit: groupA, section: "queue"},
		{name: "out of scope", unit: groupA1, section: "queue", inScope: func(settings.Unit) bool { return false },
			code: "out_of_scope", wantSource: groupA1},
		{name: "master-only section", unit: orgID, section: "password", code: "master_only", wantSource: orgID},
		{name: "unknown section", unit: groupA1, section: "nope", code: "section_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				svc := newService(t, db, newTree())
				save(t, svc, groupA, "queue", `{"priority":2}`)
				save(t, svc, groupA1, "queue", `{"priority":3}`)
				save(t, svc, orgID, "password", `{"min_length":12}`)
				err := svc.Reset(ctx, tt.unit, tt.section, tt.inScope)
				if tt.code == "" && err != nil {
					t.Fatal(err)
				}
				if tt.code != "" {
					if fe, ok := fault.As(err); !ok || fe.Code != tt.code {
						t.Fatalf("error = %v, want %s", err, tt.code)
					}
					if tt.code == "section_not_found" {
						return
					}
				}
				e, err := svc.Effective(ctx, tt.unit, tt.section)
				if err != nil {
					t.Fatal(err)
				}
				var src int64
				if e.Source != nil {
					src = e.Source.ID
				}
				if src != tt.wantSource {
					t.Errorf("source after reset = %d, want %d", src, tt.wantSource)
				}
			})
		})
	}
}

func TestConcurrentSavesToOneUnit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc := newService(t, db, newTree())
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = svc.Save(ctx, settings.SaveRequest{
					UnitID: groupA1, Section: "queue", Mode: settings.ModeUnit,
					Value: json.RawMessage(fmt.Sprintf(`{"priority":%d}`, i+1)), ActorID: master,
				})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if s := storedUnits(t, db, "queue"); !slices.Equal(s, []int64{groupA1}) {
			t.Fatalf("stored for %v, want one row for %d", s, groupA1)
		}
		q, err := settings.Get[queueSettings](ctx, svc, groupA1, "queue")
		if err != nil {
			t.Fatal(err)
		}
		if q.Priority < 1 || q.Priority > 8 {
			t.Errorf("priority = %d, want one of the saved values", q.Priority)
		}
	})
}
