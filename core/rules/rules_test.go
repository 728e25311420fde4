package rules_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/rules"
	"github.com/tetherhq/tether/core/store/storetest"
)

func rule(name, when string, group int64) routing.Rule {
	return routing.Rule{Name: name, Enabled: true, When: when,
		Then: routing.Then{Target: routing.Target{Kind: routing.TargetGroup, IDs: []int64{group}},
			Steps: []routing.Step{{Filter: `"printers" in technician.skills`, Wait: time.Minute}, {}}}}
}

func names(t *testing.T, cs []routing.CompiledRule) string {
	t.Helper()
	var out []string
	for _, c := range cs {
		out = append(out, c.Rule.Name)
	}
	return strings.Join(out, ",")
}

func TestRulesCreateUpdateReorderDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		l := rules.List{ChannelID: f.ch1}
		a, err := f.s.Create(ctx, f.adm, l, rule("a", "true", f.A))
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.s.Create(ctx, f.adm, l, rule("b", `session.platform == "windows"`, f.A))
		if err != nil {
			t.Fatal(err)
		}
		if a.Priority != 0 || b.Priority != 1 || b.ChannelID != f.ch1 || len(b.AppliesTo.ChannelIDs) != 1 || b.AppliesTo.ChannelIDs[0] != f.ch1 {
			t.Fatalf("list sets priority and applies_to: %+v %+v", a, b)
		}
		cs, err := f.s.Compiled(ctx, l)
		if err != nil || names(t, cs) != "a,b" {
			t.Fatalf("compiled: %q %v", names(t, cs), err)
		}
		if _, err := f.s.Reorder(ctx, f.adm, l, []int64{b.ID, a.ID}); err != nil {
			t.Fatal(err)
		}
		if cs, _ := f.s.Compiled(ctx, l); names(t, cs) != "b,a" {
			t.Fatalf("after reorder: %q", names(t, cs))
		}
		upd := rule("a2", "clock.in_working_hours", f.A)
		if _, err := f.s.Update(ctx, f.adm, a.ID, upd); err != nil {
			t.Fatal(err)
		}
		if cs, _ := f.s.Compiled(ctx, l); names(t, cs) != "b,a2" {
			t.Fatalf("after update: %q", names(t, cs))
		}
		if err := f.s.Delete(ctx, f.adm, b.ID); err != nil {
			t.Fatal(err)
		}
		list, err := f.s.Rules(ctx, f.adm, l)
		if err != nil || len(list) != 1 || list[0].Name != "a2" || list[0].Then.Steps[0].Wait != time.Minute {
			t.Fatalf("list: %+v %v", list, err)
		}
		// A group's list is separate and holds private-session rules.
		g, err := f.s.Create(ctx, f.adm, rules.List{GroupID: f.A}, rule("private", "true", f.A))
		if err != nil || g.AppliesTo.GroupIDs[0] != f.A || len(g.AppliesTo.ChannelIDs) != 0 {
			t.Fatalf("group rule: %+v %v", g, err)
		}

		audit, err := f.s.Audit(ctx, f.adm, l, 0)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit {
			actions = append(actions, string(e.Action))
			if e.ActorID != f.adm.Actor.ID {
				t.Fatalf("audit actor: %+v", e)
			}
		}
		if strings.Join(actions, ",") != "delete,update,reorder,create,create" {
			t.Fatalf("audit: %v", actions)
		}
		var old, new routing.Rule
		if json.Unmarshal(audit[1].Old, &old) != nil || json.Unmarshal(audit[1].New, &new) != nil || old.Name != "a" || new.Name != "a2" {
			t.Fatalf("update audit: %s -> %s", audit[1].Old, audit[1].New)
		}
		if string(audit[0].New) != "null" {
			t.Fatalf("delete audit new: %s", audit[0].New)
		}
	})
}

func TestRuleRefusedWithEveryErrorAndNothingStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		l := rules.List{ChannelID: f.ch1}
		bad := rule("bad", "session.platfrm == 1", f.A)
		bad.Then.Steps = []routing.Step{{Wait: time.Minute}, {Filter: "technician.skils[0] == \"x\""}}
		bad.Then.Target.IDs = nil
		_, err := f.s.Create(ctx, f.adm, l, bad)
		fe := wantFault(t, err, fault.Invalid)
		for _, p := range []string{"when", "then.steps[1].filter", "then.target.ids"} {
			if fe.Fields[p] == "" {
				t.Errorf("no error on %s: %v", p, fe.Fields)
			}
		}
		if !strings.Contains(fe.Fields["then.steps[1].filter"], "line 1, column") {
			t.Errorf("no position: %q", fe.Fields["then.steps[1].filter"])
		}
		list, _ := f.s.Rules(ctx, f.adm, l)
		audit, _ := f.s.Audit(ctx, f.adm, l, 0)
		if len(list) != 0 || len(audit) != 0 {
			t.Fatalf("a refused rule was stored: %v %v", list, audit)
		}
	})
}

func TestRulesScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		if _, err := f.s.Create(ctx, f.adm, rules.List{ChannelID: f.ch2}, rule("x", "true", f.B)); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("administrator on a channel outside their scope: %v", err)
		}
		if _, err := f.s.Rules(ctx, f.tech, rules.List{ChannelID: f.ch1}); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("technician reads rules: %v", err)
		}
		if _, err := f.s.Rules(ctx, f.adm, rules.List{ChannelID: f.A}); !fault.IsKind(err, fault.NotFound) {
			t.Fatalf("a group as a channel: %v", err)
		}
		r, err := f.s.Create(ctx, f.master, rules.List{ChannelID: f.ch2}, rule("x", "true", f.B))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.Delete(ctx, f.adm, r.ID); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("delete outside scope: %v", err)
		}
		if _, err := f.s.Audit(ctx, f.adm, rules.List{}, 0); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("whole audit log for an administrator: %v", err)
		}
	})
}

const printersPack = `{"rules": [
  {"name": "Printers first", "enabled": true, "priority": 5, "when": "session.fields[\"Product\"] == \"Printer\"",
   "then": {"target": {"kind": "channel", "ids": [1]},
            "steps": [{"filter": "\"printers\" in technician.skills", "wait": "30s"}, {}]}},
  {"name": "Anything", "enabled": true, "priority": 1, "when": "true", "then": {"target": {"kind": "channel", "ids": [1]}}}
]}`

func TestPacks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		bad := map[string][]byte{
			"a.json": []byte(`{"rules": [{"name": "ok", "when": "true", "then": {"target": {"kind": "group", "ids": [1]}}},
			                             {"name": "bad", "when": "session.nope", "then": {"target": {"kind": "group", "ids": [1]}}}]}`),
			"b.json": []byte(`{"rules": [{"name": "", "when": "all(1..1000, {true})", "then": {"target": {"kind": "group", "ids": [1]}}}]}`),
			"c.json": []byte(`not json`),
		}
		_, err := f.s.InstallPack(ctx, "acme", "1.0.0", bad)
		fe := wantFault(t, err, fault.Invalid)
		for _, p := range []string{"a.json: rules[1].when", "b.json: rules[0].name", "b.json: rules[0].when", "c.json"} {
			if fe.Fields[p] == "" {
				t.Errorf("no error on %q: %v", p, fe.Fields)
			}
		}
		if ps, _ := f.s.Packs(ctx, f.master); len(ps) != 0 {
			t.Fatalf("a refused pack was stored: %+v", ps)
		}
		var re routing.RuleErrors
		if _, err := rules.ParsePack(bad); !errors.As(err, &re) || len(re) < 4 {
			t.Fatalf("ParsePack: %v", err)
		}

		p, err := f.s.InstallPack(ctx, "acme", "1.0.0", map[string][]byte{"printers.json": []byte(printersPack)})
		if err != nil {
			t.Fatal(err)
		}
		l := rules.List{ChannelID: f.ch1}
		own, err := f.s.Create(ctx, f.adm, l, rule("own", "true", f.A))
		if err != nil {
			t.Fatal(err)
		}
		if cs, _ := f.s.Compiled(ctx, l); names(t, cs) != "own" {
			t.Fatalf("a pack not enabled is not used: %q", names(t, cs))
		}
		if _, err := f.s.SetPackEnabled(ctx, f.adm, p.ID, f.ch2, true); !fault.IsKind(err, fault.Forbidden) {
			t.Fatalf("enable outside scope: %v", err)
		}
		if p, err = f.s.SetPackEnabled(ctx, f.adm, p.ID, f.ch1, true); err != nil || len(p.Channels) != 1 {
			t.Fatalf("enable: %+v %v", p, err)
		}
		cs, err := f.s.Compiled(ctx, l)
		if err != nil || names(t, cs) != "own,Anything,Printers first" {
			t.Fatalf("administrator's rules first, then the pack's by priority: %q %v", names(t, cs), err)
		}
		pr := cs[2].Rule
		if pr.ID != rules.PackRuleID(p.ID, 0) || pr.ID >= 0 || pr.AppliesTo.ChannelIDs[0] != f.ch1 || pr.Then.Target.IDs[0] != f.ch1 {
			t.Fatalf("pack rule bound to the channel: %+v", pr)
		}
		// Re-installing a new version keeps the channels it is enabled on.
		if p, err = f.s.InstallPack(ctx, "acme", "1.1.0", map[string][]byte{"printers.json": []byte(printersPack)}); err != nil || p.Version != "1.1.0" || len(p.Channels) != 1 {
			t.Fatalf("upgrade: %+v %v", p, err)
		}
		if _, err := f.s.SetPackEnabled(ctx, f.adm, p.ID, f.ch1, false); err != nil {
			t.Fatal(err)
		}
		if cs, _ := f.s.Compiled(ctx, l); names(t, cs) != "own" {
			t.Fatalf("after disable: %q", names(t, cs))
		}
		if err := f.s.RemovePack(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		audit, err := f.s.Audit(ctx, f.master, rules.List{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit {
			actions = append(actions, string(e.Action))
		}
		if strings.Join(actions, ",") != "pack_remove,pack_disable,pack_install,pack_enable,create,pack_install" {
			t.Fatalf("audit: %v", actions)
		}
		_ = own
	})
}

func TestRunTimeFailuresShowInTheList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		l := rules.List{ChannelID: f.ch1}
		r, err := f.s.Create(ctx, f.adm, l, rule("div", "100 % session.transfer_count == 0", f.A))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := f.s.Compiled(ctx, l)
		if err != nil {
			t.Fatal(err)
		}
		router := routing.Router{OnFailure: f.s.Failures.Record}
		d := router.Route(cs, routing.Env{Session: routing.SessionEnv{Kind: routing.SessionChannel, ChannelID: f.ch1}}, nil)
		if d.Matched || len(d.Skipped) != 1 {
			t.Fatalf("decision: %+v", d)
		}
		list, _ := f.s.Rules(ctx, f.adm, l)
		if list[0].ID != r.ID || list[0].Failures != 1 || list[0].LastError == "" {
			t.Fatalf("list: %+v", list[0])
		}
	})
}

// TestCompiledRulesOfAnotherNode: a hub node sees rules changed through
// another node once its CacheTTL is over, and its own changes at once.
func TestCompiledRulesOfAnotherNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		other := rules.New(db, f.s.Units)
		other.CacheTTL = 50 * time.Millisecond
		l := rules.List{ChannelID: f.ch1}
		if _, err := f.s.Create(ctx, f.adm, l, rule("a", "true", f.A)); err != nil {
			t.Fatal(err)
		}
		if cs, err := other.Compiled(ctx, l); err != nil || names(t, cs) != "a" {
			t.Fatalf("other node: %q %v", names(t, cs), err)
		}
		if _, err := f.s.Create(ctx, f.adm, l, rule("b", "true", f.A)); err != nil {
			t.Fatal(err)
		}
		if cs, _ := other.Compiled(ctx, l); names(t, cs) != "a" {
			t.Fatalf("other node within its TTL: %q, want the cached a", names(t, cs))
		}
		time.Sleep(60 * time.Millisecond)
		if cs, _ := other.Compiled(ctx, l); names(t, cs) != "a,b" {
			t.Fatalf("other node after its TTL: %q, want a,b", names(t, cs))
		}
		if _, err := other.Create(ctx, f.adm, l, rule("c", "true", f.A)); err != nil {
			t.Fatal(err)
		}
		if cs, _ := other.Compiled(ctx, l); names(t, cs) != "a,b,c" {
			t.Fatalf("other node after its own change: %q, want a,b,c", names(t, cs))
		}
	})
}
