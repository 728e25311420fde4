package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// elementShot writes a PNG of one element (scrolled into view, whatever its
// height) to docs/screenshots/<name>.png.
func elementShot(w *window, css, name string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.ctx, 20*time.Second)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Sleep(150*time.Millisecond))
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(css)))
	if err != nil {
		w.fail("screenshot %s of %s: %v", name, css, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// onlineTech creates a technician with skills in a group, signs them in
// and sets them online, so that the dry run counts them.
func onlineTech(t *testing.T, h *Hub, master *api, group map[string]any, name, email string, skills ...string) string {
	t.Helper()
	m := master.must(201, "POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group["id"],
		"name": name, "email": email, "password": "First-Pass-1", "skills": skills, "languages": []string{"fr", "en"}})
	tmp, _ := signIn(t, h, email, "First-Pass-1")
	tmp.must(204, "POST", "/api/v1/auth/password", map[string]string{"current_password": "First-Pass-1", "new_password": "Second-Pass-2"})
	tech, _ := signIn(t, h, email, "Second-Pass-2")
	if code, out := tech.call("PUT", "/api/v1/me/status", map[string]string{"status": "online"}); code >= 300 {
		t.Fatalf("%s online: %d %v", email, code, out)
	}
	return id(m)
}

// TestBrowserRouting drives the Routing tab in real Chromium against the
// real binary: a master administrator writes a rule for a channel, sees the
// API's compile errors beside the condition and the step's filter, fixes
// them and saves; reorders and deletes a second rule (its hostile name shown
// as text); dry-runs a hand-written session and sees the matched rule, the
// eligible technician and the excluded ones with their reasons; and finds
// the changes in the audit log.
func TestBrowserRouting(t *testing.T) {
	browser := newBrowser(t)
	h := StartHub(t, Options{LogLevel: "info"})
	master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
	master.must(200, "PUT", "/api/v1/units/1/settings/custom_field_names",
		map[string]any{"value": map[string]any{"names": []string{"Name", "Product", "", "", "", ""}}})
	printers := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Printer team"})
	network := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Network team"})
	gid := id(printers)
	paula := onlineTech(t, h, master, printers, "Paula Printer", "paula@example.test", "printers", "scanners")
	sam := onlineTech(t, h, master, printers, "Sam Scanner", "sam@example.test", "scanners")
	otto := onlineTech(t, h, master, network, "Otto Network", "otto@example.test", "printers", "wifi")
	ch := fmt.Sprint(channel1)
	master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+gid, nil)
	rulesPath := "/api/v1/channels/" + ch + "/routing-rules"

	w := openWindow(t, browser, h.BaseURL, "admin", staffW, staffH)
	signInWeb(w, DefaultAdminEmail, DefaultAdminPassword)
	w.click(`#tree .node[data-unit="` + ch + `"]`)
	w.until("Channel 1 selected", `document.getElementById('unit-title').textContent === 'Channel 1'`)
	w.click("#tab-routing")
	w.until("the empty rule list", `document.querySelector('#routing-tab #rt-empty:not([hidden])') && document.getElementById('rt-audit-none') &&
		document.getElementById('rt-packs-none')`)

	// A rule with two mistakes: an unknown session field in the condition
	// and a misspelt technician field in the step's filter.
	const ruleName = "Printers to the printer team"
	w.click("#rt-new")
	w.until("the editor", `document.activeElement && document.activeElement.id === 'rt-name'`)
	w.fill("#rt-name", ruleName)
	w.fill("#rt-description", "Printer sessions go to printer specialists first, then to the whole channel.")
	w.fill("#rt-when", `session.fieldz["Product"] == "Printer"`)
	w.click(`#rt-target-id-` + gid)
	w.click("#rt-add-step")
	w.fill("#rt-step1-filter", `"printers" in technician.skils`)
	w.fill("#rt-step1-wait", "2m")
	w.click("#rt-add-step")
	w.choose("#rt-step2-target-kind", "channel")
	w.click(`#rt-step2-target-id-` + ch)
	w.click("#rt-save")
	w.until("the errors beside the condition and the filter", `(() => {
		const when = document.getElementById('rt-when-error'), filter = document.getElementById('rt-step1-filter-error');
		return !when.hidden && when.textContent.includes('has no field fieldz (line 1, column 9)') &&
			!filter.hidden && filter.textContent.includes('has no field skils (line 1, column 26)') &&
			when.closest('.field').dataset.path === 'when' &&
			document.getElementById('rt-when').getAttribute('aria-invalid') === 'true' &&
			document.getElementById('rt-when').getAttribute('aria-describedby').includes('rt-when-error') &&
			document.getElementById('rt-step1-filter').getAttribute('aria-invalid') === 'true' &&
			document.activeElement.id === 'rt-when'
	})()`)
	if got := w.text("#rt-editor-error"); got != "Some fields are not valid." {
		t.Errorf("editor error line = %q", got)
	}
	// The caret points at the unknown field under the offending line.
	if got := w.text("#rt-when-error .rt-caret"); got != `session.fieldz["Product"] == "Printer"`+"\n        ^" {
		t.Errorf("caret = %q", got)
	}
	if got := evalIn[string](w, `(() => { const e = document.getElementById('rt-when'); return e.value.slice(e.selectionStart, e.selectionEnd) })()`); got != "fieldz" {
		t.Errorf("selected in the condition = %q, want fieldz", got)
	}
	w.shot("admin-routing-error")
	if rs := master.must(200, "GET", rulesPath, nil)["rules"].([]any); len(rs) != 0 {
		t.Fatalf("a refused rule was stored: %v", rs)
	}

	// Fixed: saved, listed, and still open in the editor.
	w.fill("#rt-when", `session.fields["Product"] == "Printer"`)
	w.fill("#rt-step1-filter", `"printers" in technician.skills`)
	w.click("#rt-save")
	w.until("saved", `document.getElementById('rt-editor-status').textContent === `+jsString(ruleName+" was created.")+` &&
		[...document.querySelectorAll('#rt-list .rt-name')].map(e => e.textContent).join() === `+jsString(ruleName)+` &&
		document.getElementById('rt-when-error').hidden`)
	rs := master.must(200, "GET", rulesPath, nil)["rules"].([]any)
	if len(rs) != 1 {
		t.Fatalf("rules after saving: %v", rs)
	}
	rule := rs[0].(map[string]any)
	rid := id(rule)
	then := rule["then"].(map[string]any)
	steps, _ := then["steps"].([]any)
	if toJSON(then["target"]) != `{"ids":[`+gid+`],"kind":"group"}` || len(steps) != 2 {
		t.Fatalf("stored then = %s", toJSON(then))
	}
	s0, s1 := steps[0].(map[string]any), steps[1].(map[string]any)
	if s0["filter"] != `"printers" in technician.skills` || s0["wait"] != "2m0s" || s0["target"].(map[string]any)["kind"] != "" ||
		toJSON(s1["target"]) != `{"ids":[`+ch+`],"kind":"channel"}` || s1["filter"] != "" || s1["wait"] != "0s" {
		t.Errorf("stored steps = %s", toJSON(steps))
	}
	if rule["enabled"] != true || rule["when"] != `session.fields["Product"] == "Printer"` {
		t.Errorf("stored rule = %v", rule)
	}

	// A second rule through the API, named with markup: shown as text,
	// moved above the first, back below, and deleted.
	hostile := `<img src=x onerror="window.__xss='rule'">Catch-all`
	other := master.must(201, "POST", rulesPath, map[string]any{"name": hostile, "enabled": false, "when": "true",
		"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []any{printers["id"]}}}})
	oid := id(other)
	w.click("#rt-refresh")
	orow := `#rt-list tr[data-rule="` + oid + `"]`
	w.until("the second rule", `document.querySelector('`+orow+` .rt-name') && document.querySelector('`+orow+` .rt-name').textContent === `+jsString(hostile))
	if n := evalIn[int](w, `document.querySelectorAll('#rt-list img').length + (window.__xss ? 100 : 0)`); n != 0 {
		t.Errorf("the hostile rule name became markup (%d)", n)
	}
	order := func() string {
		var ids []string
		for _, r := range master.must(200, "GET", rulesPath, nil)["rules"].([]any) {
			ids = append(ids, id(r.(map[string]any)))
		}
		return strings.Join(ids, ",")
	}
	w.click(orow + " .rt-up")
	w.until("moved up", `document.querySelector('#rt-list tbody tr').dataset.rule === `+jsString(oid)+` && document.activeElement.closest('tr').dataset.rule === `+jsString(oid))
	if got := order(); got != oid+","+rid {
		t.Errorf("order after moving up = %s", got)
	}
	w.click(orow + " .rt-down")
	w.until("moved down", `document.querySelector('#rt-list tbody tr').dataset.rule === `+jsString(rid))
	w.click(orow + " .rt-delete")
	w.until("the confirmation", `document.querySelector('`+orow+` .rt-delete').dataset.confirm === 'true'`)
	w.click(orow + " .rt-delete")
	w.until("deleted", `!document.querySelector('`+orow+`') && document.querySelectorAll('#rt-list tbody tr').length === 1`)
	if got := order(); got != rid {
		t.Errorf("rules after deleting = %s", got)
	}
	fullShot(w, "admin-routing")

	// Dry run of a hand-written session against the whole list: the printer
	// rule matches; step 1 offers it to Paula only (Sam fails the filter,
	// Otto is in another group); step 2 to the channel's technicians.
	if got := evalIn[string](w, `document.querySelector('label[for=rt-dry-cf1]').textContent`); got != "Product" {
		t.Errorf("the dry run's field 1 is labelled %q, want the org's name Product", got)
	}
	w.fill("#rt-dry-cf0", "Ada Lovelace")
	w.fill("#rt-dry-cf1", "Printer")
	w.fill("#rt-dry-language", "fr")
	w.choose("#rt-dry-platform", "windows")
	w.click("#rt-dry-scope-list")
	w.click("#rt-dry-run")
	step := func(i int) string { return fmt.Sprintf(`#rt-dry-steps tr[data-step="%d"]`, i) }
	w.until("the decision", `document.querySelector('#rt-dry-result .rt-decision[data-matched=true][data-rule="`+rid+`"]') &&
		document.querySelector('`+step(1)+`')`)
	got := evalIn[map[string]string](w, `(() => {
		const q = (s) => [...document.querySelectorAll(s)];
		const techs = (s) => q(s).map(li => li.textContent).sort().join(' | ');
		return {
			matched: document.querySelector('.rt-matched-name').textContent,
			trace: techs('.rt-trace li'),
			target1: document.querySelector('`+step(0)+` .rt-step-target').textContent,
			eligible1: techs('`+step(0)+` .rt-eligible li'),
			excluded1: techs('`+step(0)+` .rt-excluded li'),
			reasons1: q('`+step(0)+` .rt-excluded li').map(li => li.dataset.tech + ':' + li.dataset.reason).sort().join(),
			starts1: document.querySelector('`+step(0)+` .rt-starts').textContent,
			eligible2: q('`+step(1)+` .rt-eligible li').map(li => li.dataset.tech).sort().join(),
			excluded2: q('`+step(1)+` .rt-excluded li').map(li => li.dataset.tech + ':' + li.dataset.reason).join(),
			starts2: document.querySelector('`+step(1)+` .rt-starts').textContent,
		};
	})()`)
	want := map[string]string{
		"matched":   ruleName,
		"trace":     ruleName + " — matched",
		"target1":   "Technician groups: Printer team",
		"eligible1": "Paula Printer",
		"excluded1": "Otto Network: is not in the target's groups | Sam Scanner: does not pass the step's filter",
		"reasons1":  sam + ":filter," + otto + ":outside_group",
		"starts1":   "0s · for 2m",
		"eligible2": paula + "," + sam,
		"excluded2": otto + ":outside_channel",
		"starts2":   "2m · until the channel's own settings act",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dry run %s = %q, want %q", k, got[k], v)
		}
	}
	elementShot(w, "#rt-dry", "admin-routing-dry-run")

	// A session that matches nothing: the plain assignment.
	w.fill("#rt-dry-cf1", "Laptop")
	w.click("#rt-dry-run")
	w.until("no match", `document.querySelector('#rt-dry-result .rt-decision[data-matched=false]') &&
		document.querySelector('.rt-trace li[data-outcome=false]')`)

	// A real waiting session with the same field: picked by its number.
	anon := &api{t: t, h: h}
	joined := anon.must(201, "POST", "/api/v1/customer/channels/"+ch+"/sessions",
		map[string]any{"fields": map[string]any{"cfields": []string{"Grace", "Printer", "", "", "", ""}}})
	sid := id(joined["session"].(map[string]any))
	w.click("#rt-dry-real")
	w.until("the channel's sessions offered", `document.querySelector('#rt-dry-sessions option[value="`+sid+`"]')`)
	w.fill("#rt-dry-session", sid)
	w.click("#rt-dry-run")
	w.until("the real session's decision", `document.querySelector('#rt-dry-result .rt-decision[data-matched=true][data-rule="`+rid+`"]') &&
		[...document.querySelectorAll('`+step(0)+` .rt-eligible li')].map(li => li.dataset.tech).join() === `+jsString(paula))
	w.click("#rt-dry-hand")

	// The audit log: who created, reordered, deleted.
	w.click("#rt-audit-refresh")
	w.until("the audit entries", `document.querySelectorAll('#rt-audit-list tbody tr').length === 5`)
	audit := evalIn[string](w, `[...document.querySelectorAll('#rt-audit-list tbody tr')].map(tr =>
		tr.dataset.action + ':' + tr.querySelector('.rt-actor').textContent + ':' + tr.querySelector('.rt-audit-rule').textContent).join('\n')`)
	wantAudit := strings.Join([]string{
		"delete:Master administrator (You):" + hostile + " (#" + oid + ")",
		"reorder:Master administrator (You):",
		"reorder:Master administrator (You):",
		"create:Master administrator (You):" + hostile + " (#" + oid + ")",
		"create:Master administrator (You):" + ruleName + " (#" + rid + ")",
	}, "\n")
	if audit != wantAudit {
		t.Errorf("audit log:\n%s\nwant:\n%s", audit, wantAudit)
	}

	// A technician group's list routes the group's private sessions: the
	// dry run sends group_id, so the session it tries is a private session
	// of the group. The empty list leaves it to its creator; the rule in the
	// editor, unsaved, matches only a private session of this group; a
	// condition reading technician is refused beside the condition.
	w.click(`#tree .node[data-unit="` + gid + `"]`)
	w.until("the group's routing tab", `document.getElementById('rt-title') && document.getElementById('rt-title').textContent === 'Routing rules of the technician group Printer team'`)
	if !evalIn[bool](w, `!document.getElementById('rt-dry-run').disabled && document.getElementById('rt-dry-scope-list').checked &&
		document.getElementById('rt-dry-scope-rule').disabled && !document.getElementById('rt-dry-channel')`) {
		t.Error("a group's dry run does not offer its whole list (or still asks for a channel)")
	}
	w.click("#rt-dry-run")
	w.until("no match in the empty group list", `document.querySelector('#rt-dry-result .rt-decision[data-matched=false]') &&
		document.querySelector('#rt-dry-result').textContent.includes('The session would wait for its creator, as without rules.')`)
	w.click("#rt-new")
	w.fill("#rt-name", "Private printer sessions")
	w.fill("#rt-when", `technician.id > 0`)
	w.click(`#rt-target-id-` + gid)
	w.click("#rt-try")
	w.until("the refusal beside the condition", `(() => {
		const e = document.getElementById('rt-when-error');
		return !e.hidden && e.textContent.includes('unknown name technician') &&
			document.getElementById('rt-dry-error').textContent === "The rule in the editor is not valid: see the errors beside its fields."
	})()`)
	w.fill("#rt-when", `session.kind == "private" && session.group_id == `+gid+` && session.channel_id == 0 && session.fields["Product"] != ""`)
	w.fill("#rt-dry-cf1", "Scanner")
	w.click("#rt-try")
	w.until("the unsaved rule's decision", `document.querySelector('#rt-dry-result .rt-decision[data-matched=true]') &&
		document.querySelector('.rt-matched-name').textContent === 'Private printer sessions' && document.getElementById('rt-when-error').hidden &&
		[...document.querySelectorAll('`+step(0)+` .rt-eligible li')].map(li => li.dataset.tech).sort().join() === `+jsString(paula+","+sam)+` &&
		document.querySelector('`+step(0)+` .rt-starts').textContent === "0s · until it is back in its creator's queue"`)
	if rs := master.must(200, "GET", "/api/v1/groups/"+gid+"/routing-rules", nil)["rules"].([]any); len(rs) != 0 {
		t.Errorf("a dry run stored a rule: %v", rs)
	}

	// In French.
	w.choose("#lang-select", "fr")
	w.click("header form.inline button[type=submit]")
	w.until("French", `document.documentElement.lang === 'fr' && document.querySelector('#tree .node')`)
	w.click(`#tree .node[data-unit="` + ch + `"]`)
	w.click("#tab-routing")
	w.until("the French tab", `document.getElementById('rt-title') && document.querySelector('#rt-list tr[data-rule="`+rid+`"]')`)
	for css, want := range map[string]string{
		"#rt-title":            "Règles de routage du canal Channel 1",
		"#rt-new":              "Nouvelle règle",
		"#rt-dry-run":          "Lancer",
		"#rt-list .rt-enabled": "oui",
	} {
		if got := w.text(css); got != want {
			t.Errorf("French %s = %q, want %q", css, got, want)
		}
	}
}
