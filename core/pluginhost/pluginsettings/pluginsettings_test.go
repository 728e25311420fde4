package pluginsettings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/catalogue"
	"github.com/tetherhq/tether/core/pluginhost/pluginsettings"
	"github.com/tetherhq/tether/core/pluginhost/secrets"
	"github.com/tetherhq/tether/core/settings"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

var _ pluginsettings.Manifests = (*catalogue.Catalogue)(nil)

const crmManifest = `{
  "id": "crm", "name": "CRM", "version": "1.0.0", "executable": "crm",
  "capabilities": ["events"], "events": ["session.*"],
  "settings": [
    {"key": "url", "type": "url", "label": "CRM URL", "required": true},
    {"key": "api_key", "type": "secret", "label": "API key", "required": true, "scope": "org"},
    {"key": "webhook", "type": "url", "secret": true, "label": "Webhook with token"},
    {"key": "queue_name", "type": "string", "label": "Queue", "default": "support", "scope": "group"},
    {"key": "greeting", "type": "text", "label": "Greeting", "scope": "channel"},
    {"key": "priority", "type": "int", "label": "Priority", "min": 1, "max": 9, "default": 5},
    {"key": "mode", "type": "enum", "label": "Mode", "enum": ["fast", "safe"], "default": "safe"}
  ]
}`

// Plaintexts that must never reach the database or a View.
const (
	apiKey  = "k-SECRET-123"
	hookTok = "t0k3n-SECRET"
	webhook = "https://hooks.example.com/" + hookTok
)

type manifests map[string]manifest.Manifest

func (ms manifests) Manifest(_ context.Context, id string) (manifest.Manifest, error) {
	m, ok := ms[id]
	if !ok {
		return manifest.Manifest{}, fault.NotFoundf("plugin", "There is no plugin %q.", id)
	}
	return m, nil
}

func newService(t *testing.T, db *bun.DB) (*pluginsettings.Service, manifests) {
	t.Helper()
	seedNodes(t, db)
	m, err := manifest.Parse([]byte(crmManifest))
	if err != nil {
		t.Fatal(err)
	}
	k, err := secrets.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ms := manifests{"crm": m}
	return &pluginsettings.Service{
		DB: db, Tree: newTree(), Manifests: ms, Keyring: k,
		Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) },
	}, ms
}

func orgValues() map[string]any {
	return map[string]any{"url": "https://crm.example.com", "api_key": apiKey, "webhook": webhook,
		"queue_name": "support-org", "greeting": "Hello", "priority": json.Number("7")}
}

func save(t *testing.T, svc *pluginsettings.Service, unit int64, mode settings.Mode, enabled bool, values map[string]any) []settings.Unit {
	t.Helper()
	units, err := svc.Save(context.Background(), pluginsettings.SaveRequest{
		PluginID: "crm", UnitID: unit, Mode: mode, Enabled: enabled, Values: values,
	})
	if err != nil {
		t.Fatalf("save on %d: %v", unit, err)
	}
	return units
}

func effective(t *testing.T, svc *pluginsettings.Service, unit int64) (map[string]any, bool) {
	t.Helper()
	v, on, err := svc.Effective(context.Background(), "crm", unit)
	if err != nil {
		t.Fatalf("effective on %d: %v", unit, err)
	}
	return v, on
}

func view(t *testing.T, svc *pluginsettings.Service, unit int64) pluginsettings.View {
	t.Helper()
	v, err := svc.View(context.Background(), "crm", unit)
	if err != nil {
		t.Fatalf("view of %d: %v", unit, err)
	}
	data, _ := json.Marshal(v)
	for _, plain := range []string{apiKey, hookTok} {
		if strings.Contains(string(data), plain) {
			t.Fatalf("View of %d shows a secret: %s", unit, data)
		}
	}
	return v
}

// rows returns the stored plugin settings: unit -> value.
func rows(t *testing.T, db *bun.DB) map[int64]string {
	t.Helper()
	var rs []struct {
		UnitID int64  `bun:"unit_id"`
		Value  string `bun:"value"`
	}
	if err := db.NewRaw("SELECT unit_id, value FROM settings WHERE section = 'plugin.crm'").Scan(context.Background(), &rs); err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for _, r := range rs {
		for _, plain := range []string{apiKey, hookTok, "k-NEW"} {
			if strings.Contains(r.Value, plain) {
				t.Fatalf("secret stored in clear on unit %d: %s", r.UnitID, r.Value)
			}
		}
		out[r.UnitID] = r.Value
	}
	return out
}

func unitIDs(units []settings.Unit) []int64 {
	var out []int64
	for _, u := range units {
		out = append(out, u.ID)
	}
	slices.Sort(out)
	return out
}

func TestDefaults(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, _ := newService(t, db)
		v := view(t, svc, groupA)
		want := map[string]any{
			"url": nil, "api_key": pluginsettings.SecretState{}, "webhook": pluginsettings.SecretState{},
			"queue_name": "support", "greeting": nil, "priority": int64(5), "mode": "safe",
		}
		if v.Enabled || v.Own || v.InheritedFrom != nil || !reflect.DeepEqual(v.Values, want) {
			t.Errorf("default view = %+v", v)
		}
		if v.Locked["api_key"].ID != orgID || v.Locked["greeting"].ID != orgID || len(v.Locked) != 2 {
			t.Errorf("locked = %v, want api_key and greeting from the organisation", v.Locked)
		}
		vals, on := effective(t, svc, chan1)
		if on || !maps.Equal(vals, map[string]any{"queue_name": "support", "priority": int64(5), "mode": "safe"}) {
			t.Errorf("default effective = %v, %v", vals, on)
		}
	})
}

func TestSaveSealsSecretsAndChildrenInherit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, _ := newService(t, db)
		units := save(t, svc, orgID, settings.ModeUnit, true, orgValues())
		if !reflect.DeepEqual(unitIDs(units), []int64{orgID}) {
			t.Errorf("written %v", unitIDs(units))
		}
		v := view(t, svc, orgID)
		if !v.Own || !v.Enabled || v.Values["api_key"] != (pluginsettings.SecretState{Set: true}) ||
			v.Values["webhook"] != (pluginsettings.SecretState{Set: true}) || v.Values["priority"] != int64(7) {
			t.Errorf("org view = %+v", v)
		}
		for _, unit := range []int64{chan1, groupA1} {
			vals, on := effective(t, svc, unit)
			if !on || vals["api_key"] != apiKey || vals["webhook"] != webhook || vals["priority"] != int64(7) || vals["mode"] != "safe" {
				t.Errorf("effective on %d = %v, %v", unit, vals, on)
			}
		}
		if c := view(t, svc, chan1); c.Own || c.InheritedFrom == nil || c.InheritedFrom.ID != orgID {
			t.Errorf("channel view = %+v, want inherited from the organisation", c)
		}
		stored := rows(t, db)[orgID]
		if strings.Count(stored, `"v1:`) != 2 {
			t.Errorf("stored %s, want two sealed values", stored)
		}
	})
}

func TestSaveModes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, _ := newService(t, db)
		save(t, svc, orgID, settings.ModeUnit, false, orgValues())

		// (a) this unit only.
		units := save(t, svc, groupA, settings.ModeUnit, true, map[string]any{"url": "https://a.example", "priority": 2})
		if got := unitIDs(units); !reflect.DeepEqual(got, []int64{groupA}) {
			t.Errorf("unit mode wrote %v", got)
		}
		if v := view(t, svc, groupA1); v.Own || v.InheritedFrom.ID != groupA || !v.Enabled {
			t.Errorf("A1 after a save on A = %+v, want inherited from A", v)
		}
		if vals, on := effective(t, svc, groupB); on || vals["url"] != "https://crm.example.com" {
			t.Errorf("B after a save on A = %v %v, want the organisation's", vals, on)
		}
		// A kept the secrets it inherited, as its own sealed copies.
		if vals, _ := effective(t, svc, groupA); vals["webhook"] != webhook || vals["api_key"] != apiKey || vals["priority"] != int64(2) {
			t.Errorf("A = %v", vals)
		}

		// (b) this group and all its subgroups; technicians hold no plugin settings.
		units = save(t, svc, groupA, settings.ModeSubtree, true, map[string]any{"url": "https://sub.example"})
		if got := unitIDs(units); !reflect.DeepEqual(got, []int64{groupA, groupA1}) {
			t.Errorf("subtree mode wrote %v", got)
		}
		if v := view(t, svc, groupA1); !v.Own || v.Values["url"] != "https://sub.example" || v.Values["webhook"] != (pluginsettings.SecretState{Set: true}) {
			t.Errorf("A1 after a subtree save = %+v", v)
		}
		if vals, _ := effective(t, svc, groupA1); vals["webhook"] != webhook {
			t.Errorf("A1 webhook = %v", vals["webhook"])
		}

		// (c) all units of the kind: every channel, no group.
		units = save(t, svc, chan1, settings.ModeAll, true, map[string]any{"url": "https://chan.example", "greeting": "Hi"})
		if got := unitIDs(units); !reflect.DeepEqual(got, []int64{chan1, chan2}) {
			t.Errorf("all mode wrote %v", got)
		}
		if vals, _ := effective(t, svc, chan2); vals["url"] != "https://chan.example" || vals["greeting"] != "Hi" {
			t.Errorf("channel 2 after an all-channels save = %v", vals)
		}
		stored := rows(t, db)
		if got := slices.Sorted(maps.Keys(stored)); !reflect.DeepEqual(got, []int64{orgID, groupA, groupA1, chan1, chan2}) {
			t.Errorf("rows on %v", got)
		}

		if err := svc.Reset(context.Background(), "crm", groupA1, nil); err != nil {
			t.Fatal(err)
		}
		if v := view(t, svc, groupA1); v.Own || v.InheritedFrom.ID != groupA {
			t.Errorf("A1 after reset = %+v", v)
		}
	})
}

func TestSecretsKeptClearedReplaced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, _ := newService(t, db)
		save(t, svc, orgID, settings.ModeUnit, true, orgValues())
		for name, submitted := range map[string]map[string]any{
			"omitted":      {"url": "https://crm.example.com"},
			"empty":        {"url": "https://crm.example.com", "api_key": "", "webhook": ""},
			"null":         {"url": "https://crm.example.com", "api_key": nil, "webhook": nil},
			"view echoed":  {"url": "https://crm.example.com", "api_key": map[string]any{"set": true}, "webhook": pluginsettings.SecretState{Set: true}},
			"state as ptr": {"url": "https://crm.example.com", "webhook": &pluginsettings.SecretState{Set: true}},
		} {
			save(t, svc, orgID, settings.ModeUnit, true, submitted)
			if vals, _ := effective(t, svc, orgID); vals["api_key"] != apiKey || vals["webhook"] != webhook {
				t.Errorf("%s: secrets = %v / %v, want them kept", name, vals["api_key"], vals["webhook"])
			}
		}
		save(t, svc, orgID, settings.ModeUnit, true, map[string]any{"url": "https://crm.example.com", "api_key": "k-NEW", "webhook": map[string]any{"set": false}})
		vals, _ := effective(t, svc, orgID)
		if vals["api_key"] != "k-NEW" {
			t.Errorf("api_key = %v, want replaced", vals["api_key"])
		}
		if _, ok := vals["webhook"]; ok {
			t.Errorf("webhook = %v, want cleared", vals["webhook"])
		}
		if v := view(t, svc, orgID); v.Values["webhook"] != (pluginsettings.SecretState{}) {
			t.Errorf("cleared webhook shows as %v", v.Values["webhook"])
		}
		_, err := svc.Save(context.Background(), pluginsettings.SaveRequest{PluginID: "crm", UnitID: orgID, Mode: settings.ModeUnit,
			Values: map[string]any{"url": "https://crm.example.com", "api_key": map[string]any{"set": false}}})
		if fe, ok := fault.As(err); !ok || fe.Fields["api_key"] != "is required" {
			t.Errorf("clearing a required secret = %v", err)
		}
		rows(t, db) // no plaintext anywhere
	})
}

type fieldErr map[string]string

func (f fieldErr) Error() string                  { return "config refused" }
func (f fieldErr) FieldErrors() map[string]string { return f }

func TestValidationOrderKeepsStoredValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, _ := newService(t, db)
		save(t, svc, orgID, settings.ModeSubtree, true, orgValues())
		before := rows(t, db)

		called := 0
		var got map[string]any
		configure := func(_ context.Context, unit int64, values map[string]any) error {
			called++
			got = values
			if unit != groupA {
				t.Errorf("Configure for unit %d, want %d", unit, groupA)
			}
			if values["url"] == "https://unreachable.example" {
				return fmt.Errorf("configure: %w", fieldErr{"url": "does not answer"})
			}
			if values["url"] == "https://broken.example" {
				return errBroken
			}
			if values["url"] == "https://sdk.example" {
				return &sdk.ConfigError{Message: "invalid settings", Fields: map[string]string{"url": "must end in /api"}}
			}
			if values["url"] == "https://whole.example" {
				return &sdk.ConfigError{Message: "the CRM refused the API key"}
			}
			return nil
		}
		req := func(values map[string]any) pluginsettings.SaveRequest {
			return pluginsettings.SaveRequest{PluginID: "crm", UnitID: groupA, Mode: settings.ModeSubtree, Enabled: true, Values: values, Configure: configure}
		}

		// Schema first: the plugin is not asked about values the schema refuses.
		_, err := svc.Save(ctx, req(map[string]any{"url": "ftp://x", "priority": 12, "mode": "turbo", "colour": "red", "queue_name": 5}))
		fe, ok := fault.As(err)
		if !ok || fe.Kind != fault.Invalid || len(fe.Fields) != 5 || !strings.Contains(fe.Fields["priority"], "at most 9") ||
			!strings.Contains(fe.Fields["colour"], "not a setting") {
			t.Fatalf("schema errors = %v", err)
		}
		if called != 0 {
			t.Error("Configure called although the schema refused the values")
		}

		// Then the plugin; its field errors come back intact.
		_, err = svc.Save(ctx, req(map[string]any{"url": "https://unreachable.example"}))
		fe, ok = fault.As(err)
		if !ok || fe.Code != "plugin_refused" || !reflect.DeepEqual(fe.Fields, map[string]string{"url": "does not answer"}) {
			t.Fatalf("plugin field errors = %v", err)
		}
		// priority was left out: like every settings save, it takes its
		// default (5), not the organisation's 7; secrets are kept.
		if called != 1 || got["api_key"] != apiKey || got["webhook"] != webhook || got["priority"] != int64(5) ||
			got["mode"] != "safe" || got["greeting"] != "Hello" {
			t.Errorf("Configure saw %v, want every setting with defaults and secrets in clear", got)
		}
		_, err = svc.Save(ctx, req(map[string]any{"url": "https://sdk.example"}))
		fe, ok = fault.As(err)
		if !ok || fe.Code != "plugin_refused" || !reflect.DeepEqual(fe.Fields, map[string]string{"url": "must end in /api"}) {
			t.Fatalf("sdk.ConfigError = %v", err)
		}
		_, err = svc.Save(ctx, req(map[string]any{"url": "https://whole.example"}))
		fe, ok = fault.As(err)
		if !ok || fe.Kind != fault.Invalid || !strings.Contains(fe.Message, "the CRM refused the API key") {
			t.Fatalf("sdk.ConfigError without fields = %v", err)
		}
		_, err = svc.Save(ctx, req(map[string]any{"url": "https://broken.example"}))
		if !errors.Is(err, errBroken) || !strings.Contains(err.Error(), "crm") {
			t.Errorf("plain Configure error = %v", err)
		}
		if after := rows(t, db); !maps.Equal(before, after) {
			t.Errorf("a refused save changed the stored values:\n%v\n%v", before, after)
		}

		if _, err := svc.Save(ctx, req(map[string]any{"url": "https://fine.example"})); err != nil {
			t.Fatal(err)
		}
		if vals, _ := effective(t, svc, groupA1); vals["url"] != "https://fine.example" {
			t.Errorf("accepted save not written: %v", vals)
		}
	})
}

var errBroken = errors.New("plugin not running")

func TestScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, _ := newService(t, db)
		save(t, svc, orgID, settings.ModeUnit, true, orgValues())

		// api_key (org) and greeting (channel) cannot be held by a group:
		// sending them back unchanged is fine, changing them is refused.
		v := view(t, svc, groupA)
		echoed := maps.Clone(v.Values)
		echoed["url"] = "https://a.example"
		echoed["queue_name"] = "support-a"
		save(t, svc, groupA, settings.ModeUnit, true, echoed)
		_, err := svc.Save(ctx, pluginsettings.SaveRequest{PluginID: "crm", UnitID: groupA, Mode: settings.ModeUnit,
			Values: map[string]any{"url": "https://a.example", "greeting": "Yo", "api_key": "k-NEW"}})
		fe, ok := fault.As(err)
		if !ok || !strings.Contains(fe.Fields["greeting"], "set on Acme (scope channel)") || !strings.Contains(fe.Fields["api_key"], "scope org") {
			t.Fatalf("changing locked settings = %v", err)
		}

		// The group reads them from the organisation, now and after it changes them.
		org := orgValues()
		org["greeting"] = "Bonjour"
		org["queue_name"] = "support-org-2"
		save(t, svc, orgID, settings.ModeUnit, true, org)
		vals, _ := effective(t, svc, groupA)
		if vals["greeting"] != "Bonjour" || vals["api_key"] != apiKey || vals["queue_name"] != "support-a" || vals["url"] != "https://a.example" {
			t.Errorf("group A = %v", vals)
		}
		// A channel takes queue_name (group scope) from the organisation.
		save(t, svc, chan1, settings.ModeUnit, true, map[string]any{"url": "https://c1.example", "greeting": "Salut"})
		vals, _ = effective(t, svc, chan1)
		if vals["queue_name"] != "support-org-2" || vals["greeting"] != "Salut" {
			t.Errorf("channel 1 = %v", vals)
		}
		if v := view(t, svc, chan1); v.Locked["queue_name"].ID != orgID || v.Locked["api_key"].ID != orgID {
			t.Errorf("channel locks = %v", v.Locked)
		}
	})
}

func TestLockedRequiredNamesWhereToSetIt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, _ := newService(t, db)
		_, err := svc.Save(context.Background(), pluginsettings.SaveRequest{PluginID: "crm", UnitID: groupB, Mode: settings.ModeUnit,
			Values: map[string]any{"url": "https://b.example"}})
		fe, ok := fault.As(err)
		if !ok || fe.Fields["api_key"] != "is required: set it on Acme" {
			t.Fatalf("save before the organisation set its API key = %v", err)
		}
	})
}

func TestRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, _ := newService(t, db)
		valid := orgValues()
		for name, tc := range map[string]struct {
			req  pluginsettings.SaveRequest
			kind fault.Kind
		}{
			"unknown plugin": {pluginsettings.SaveRequest{PluginID: "nope", UnitID: orgID, Mode: settings.ModeUnit, Values: valid}, fault.NotFound},
			"bad mode":       {pluginsettings.SaveRequest{PluginID: "crm", UnitID: orgID, Mode: "everything", Values: valid}, fault.Invalid},
			"technician":     {pluginsettings.SaveRequest{PluginID: "crm", UnitID: tech1, Mode: settings.ModeUnit, Values: valid}, fault.Invalid},
			"unknown unit":   {pluginsettings.SaveRequest{PluginID: "crm", UnitID: 999, Mode: settings.ModeUnit, Values: valid}, fault.NotFound},
			"out of scope": {pluginsettings.SaveRequest{PluginID: "crm", UnitID: orgID, Mode: settings.ModeUnit, Values: valid,
				InScope: func(u settings.Unit) bool { return u.Kind != settings.Org }}, fault.Forbidden},
		} {
			t.Run(name, func(t *testing.T) {
				_, err := svc.Save(ctx, tc.req)
				if !fault.IsKind(err, tc.kind) {
					t.Errorf("Save = %v, want kind %d", err, tc.kind)
				}
			})
		}
		if _, _, err := svc.Effective(ctx, "crm", tech1); !fault.IsKind(err, fault.Invalid) {
			t.Errorf("Effective on a technician = %v", err)
		}
		if len(rows(t, db)) != 0 {
			t.Error("a refused save wrote rows")
		}
	})
}

func TestNewManifestVersionDropsValuesItRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		svc, ms := newService(t, db)
		vals := orgValues()
		vals["mode"] = "fast"
		save(t, svc, orgID, settings.ModeUnit, true, vals)
		m, err := manifest.Parse([]byte(strings.Replace(strings.Replace(crmManifest, `["fast", "safe"]`, `["safe", "paranoid"]`, 1), `"max": 9`, `"max": 6`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		ms["crm"] = m
		got, _ := effective(t, svc, orgID)
		if got["mode"] != "safe" || got["priority"] != int64(5) || got["api_key"] != apiKey {
			t.Errorf("after the schema changed: %v", got)
		}
	})
}
