package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestBrowserQueuePriority drives the technician console in real Chromium
// against the real binary: a channel rule gives urgent sessions priority 40;
// of two waiting sessions, the urgent one, opened second, is listed first
// (the console keeps the hub's pick-up order instead of sorting by number)
// with a priority badge whose full wording screen readers get, in English
// and in French; the routine one has no badge.
func TestBrowserQueuePriority(t *testing.T) {
	browser := newBrowser(t)
	h := StartHub(t, Options{LogLevel: "info"})
	master, _ := signIn(t, h, DefaultAdminEmail, DefaultAdminPassword)
	desk := master.must(201, "POST", "/api/v1/tech-groups", map[string]any{"name": "Priority desk"})
	ch := fmt.Sprint(channel1)
	master.must(200, "PUT", "/api/v1/channels/"+ch+"/groups/"+id(desk), nil)
	onlineTech(t, h, master, desk, "Pia Priority", "pia@example.test")
	master.must(201, "POST", "/api/v1/channels/"+ch+"/routing-rules", map[string]any{
		"name": "Urgent first", "enabled": true, "when": `session.tracking_id == "URGENT"`,
		"then": map[string]any{"target": map[string]any{"kind": "group", "ids": []any{desk["id"]}}, "session_priority": 40}})

	anon := &api{t: t, h: h}
	open := func(name, tracking string) string {
		t.Helper()
		j := anon.must(201, "POST", "/api/v1/customer/channels/"+ch+"/sessions",
			map[string]any{"fields": map[string]any{"cfields": []string{name, "", "", "", "", ""}, "tracking_id": tracking}})
		return id(j["session"].(map[string]any))
	}
	routine := open("Rita Routine", "ROUTINE")
	urgent := open("Uma Urgent", "URGENT")

	w := openWindow(t, browser, h.BaseURL, "pia", staffW, staffH)
	w.open("/console")
	w.until("the sign-in form", `location.pathname === '/signin' && document.getElementById('email')`)
	w.fill("#email", "pia@example.test")
	w.fill("#password", "Second-Pass-2")
	w.click("#signin-submit")
	w.until("the console", `location.pathname === '/console' && document.getElementById('queue-live').textContent === 'live'`)

	rows := `[...document.querySelectorAll('#queue-body tr')].map(tr => tr.dataset.session).join()`
	w.until("both sessions, the urgent one first", rows+` === `+jsString(urgent+","+routine))
	badge := func(sid string) map[string]string {
		t.Helper()
		return evalIn[map[string]string](w, `(() => {
			const b = document.querySelector('#queue-body tr[data-session="`+sid+`"] .badge.priority');
			if (!b) return {};
			return { shown: b.querySelector('[aria-hidden=true]').textContent, spoken: b.querySelector('.sr-only').textContent,
				title: b.title, priority: b.dataset.priority, cell: b.closest('td').textContent };
		})()`)
	}
	want := map[string]string{"shown": "P40", "spoken": "Priority 40", "title": "Priority 40", "priority": "40", "cell": "Waiting P40Priority 40"}
	if got := badge(urgent); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the urgent session's badge = %v, want %v", got, want)
	}
	if got := badge(routine); len(got) != 0 {
		t.Errorf("the routine session (priority 0) has a badge: %v", got)
	}
	// The hub's order, as GET /api/v1/queue gives it.
	var apiOrder []string
	pia, _ := signIn(t, h, "pia@example.test", "Second-Pass-2")
	for _, s := range pia.must(200, "GET", "/api/v1/queue", nil)["sessions"].([]any) {
		apiOrder = append(apiOrder, id(s.(map[string]any)))
	}
	if got := evalIn[string](w, rows); got != strings.Join(apiOrder, ",") {
		t.Errorf("the console lists %s, the API %s", got, strings.Join(apiOrder, ","))
	}
	w.shot("console-queue-priority")

	// In French.
	w.choose("#lang-select", "fr")
	w.click("header form.inline button[type=submit]")
	w.until("French", `document.documentElement.lang === 'fr' && document.getElementById('queue-live').textContent === 'en direct'`)
	w.until("the queue in French", rows+` === `+jsString(urgent+","+routine))
	if got := badge(urgent); got["spoken"] != "Priorité 40" || got["title"] != "Priorité 40" || got["shown"] != "P40" {
		t.Errorf("the urgent session's badge in French = %v", got)
	}
}
