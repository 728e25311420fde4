package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const (
	tinaEmail    = "tina@example.test"
	tinaFirstPw  = "Tina-First-Pw-42"
	tinaPw       = "Tina-Second-Pw-43"
	theoEmail    = "theo@example.test"
	theoFirstPw  = "Theo-First-Pw-42"
	theoPw       = "Theo-Second-Pw-43"
	channel1     = 2 // Channel 1 is the first unit after the organisation and the master
	customerW    = 390
	customerH    = 844
	staffW       = 1366
	staffH       = 900
	hostileName  = `<img src=x onerror="window.__xss='name'">`
	hostileField = `<script>window.__xss='field'</script>`
	hostileChat  = `<b>bold</b><img src=x onerror="window.__xss='chat'"><script>window.__xss='chat2'</script>`
)

// TestBrowser drives real Chromium against the real binary: an administrator
// builds a group with a technician and gives it a channel; the technician
// (forced password change first) and customers in their own browser
// contexts go through a channel session and a PIN session with chat,
// transfer, reload and close; hostile input renders as text.
func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	h := StartHub(t, Options{LogLevel: "info"})
	admin := signInAPI(t, h, DefaultAdminEmail, DefaultAdminPassword, "")

	t.Run("AdminBuildsGroup", func(t *testing.T) { adminBuildsGroup(t, browser, h) })
	if t.Failed() {
		return
	}
	group := findUnit(t, admin, "Helpdesk")
	theo := admin.must("POST", "/api/v1/members", map[string]any{"role": "technician", "group_id": group,
		"name": "Theo Tech", "nickname": "Theo", "email": theoEmail, "password": theoFirstPw})
	theoAPI := signInAPI(t, h, theoEmail, theoFirstPw, theoPw)
	theoAPI.must("PUT", "/api/v1/me/status", map[string]string{"status": "online"})

	tina := openWindow(t, browser, h.BaseURL, "tina", staffW, staffH)
	t.Run("TechnicianSignsIn", func(t *testing.T) { technicianSignsIn(t, tina) })
	if t.Failed() {
		return
	}
	t.Run("ChannelSession", func(t *testing.T) { channelSession(t, browser, h, tina, theoAPI, idOf(theo)) })
	t.Run("PINSessionWithReload", func(t *testing.T) { pinSession(t, browser, h, tina) })
	t.Run("HostileInput", func(t *testing.T) { hostileInput(t, browser, h, tina) })
}

func findUnit(t *testing.T, c apiClient, name string) int64 {
	t.Helper()
	out := c.must("GET", "/api/v1/org/search?q="+name, nil)
	for _, r := range out["results"].([]any) {
		m := r.(map[string]any)
		if m["name"] == name {
			return idOf(m)
		}
	}
	t.Fatalf("no unit %q in %v", name, out)
	return 0
}

func adminBuildsGroup(t *testing.T, browser context.Context, h *Hub) {
	w := openWindow(t, browser, h.BaseURL, "admin", staffW, staffH)
	w.open("/admin")
	w.until("the sign-in form", `location.pathname === '/signin' && document.getElementById('email')`)
	w.shot("signin")
	w.fill("#email", DefaultAdminEmail)
	w.fill("#password", DefaultAdminPassword)
	w.click("#signin-submit")
	w.until("the organisation tree", `document.querySelector('#tree .node.kind-org.selected')`)
	w.shot("admin-organisation")

	// A technician group under the organisation, then a technician in it.
	w.fill("#new-group-form input[name=name]", "Helpdesk")
	w.click("#new-group-form button[type=submit]")
	w.until("the new group selected", `document.getElementById('unit-title').textContent === 'Helpdesk'`)
	w.fill("#new-member-form input[name=name]", "Tina Tech")
	w.fill("#new-member-form input[name=nickname]", "Tina")
	w.fill("#new-member-form input[name=email]", tinaEmail)
	w.fill("#new-member-form input[name=password]", tinaFirstPw)
	w.click("#new-member-form button[type=submit]")
	w.until("Tina in the members", `[...document.querySelectorAll('#members td')].some(td => td.textContent === 'Tina Tech')`)

	// ORG-6: search finds her.
	w.fill("#tree-search", "tina")
	w.until("a search hit", `[...document.querySelectorAll('#search-results .hit')].some(b => b.textContent.includes('Tina Tech'))`)

	// Channel 1 goes to the group (the group is preselected in the form).
	w.click("#tab-channels")
	sel := fmt.Sprintf(`.channel[data-channel="%d"]`, channel1)
	w.until("channel 1's card", `document.querySelector('`+sel+`')`)
	w.click(sel + " form:nth-of-type(2) button[type=submit]")
	w.until("Helpdesk assigned", `[...document.querySelectorAll('`+sel+` .chips li')].some(li => li.textContent.includes('Helpdesk'))`)
	w.until("the snippet", `document.querySelector('`+sel+` .snippet').value.includes('/c/`+fmt.Sprint(channel1)+`')`)
	w.shot("admin-channels")

	w.click("#tab-settings")
	w.until("settings sections", `document.querySelectorAll('#tab-panel form.settings').length > 0`)
	// ORG-8: the save modes are offered for a group.
	w.until("three save modes", `document.querySelector('#tab-panel form.settings select[name=_mode]').options.length === 3`)
	w.shot("admin-settings")
	w.click("#tab-sessions")
	w.until("the sessions tab", `document.getElementById('unit-sessions')`)
	w.click("#tab-plugins")
	w.until("the plugins tab", `document.getElementById('plugins-tab')`)

	// The language selector switches the admin centre to French.
	w.choose("#lang-select", "fr")
	w.click("header form.inline button[type=submit]")
	w.until("French", `document.documentElement.lang === 'fr' && document.getElementById('tab-settings').textContent === 'Paramètres'`)
	w.choose("#lang-select", "en")
	w.click("header form.inline button[type=submit]")
	w.until("English", `document.documentElement.lang === 'en'`)
}

func technicianSignsIn(t *testing.T, tina *window) {
	tina = tina.with(t)
	tina.open("/signin")
	tina.fill("#email", tinaEmail)
	tina.fill("#password", "wrong-password")
	tina.click("#signin-submit")
	tina.until("a clear refusal", `(document.getElementById('page-error')||{}).textContent === 'The e-mail address or password is wrong.'`)
	tina.fill("#password", tinaFirstPw)
	tina.click("#signin-submit")
	// AUTH-1: an admin-set password must be changed first.
	tina.until("the forced password change", `location.pathname === '/password' && document.getElementById('password-required')`)
	tina.shot("console-password-change")
	tina.fill("#current_password", tinaFirstPw)
	tina.fill("#new_password", tinaPw)
	tina.fill("#confirm_password", tinaPw)
	tina.click("#password-submit")
	tina.until("the console", `location.pathname === '/console' && document.getElementById('queue-live').textContent === 'live'`)
	tina.choose("#status-select", "online")
	tina.until("online", `document.getElementById('status-result').textContent.includes('Online')`)
}

// customerChat sends a chat line from the customer page.
func customerSays(w *window, text string) {
	w.t.Helper()
	w.fill("#chat-input", text)
	w.click("#chat-send")
}

func techSays(w *window, session int64, audience, text string) {
	w.t.Helper()
	pane := fmt.Sprintf(`.pane[data-session="%d"]`, session)
	w.choose(pane+" .audience", audience)
	w.fill(pane+" .msg-input", text)
	w.click(pane + " .send")
}

func logHas(w *window, list, text string) {
	w.t.Helper()
	w.until("chat line "+text, `[...document.querySelectorAll('`+list+` li[data-seq] .body')].some(b => b.textContent === `+jsString(text)+`)`)
}

func channelSession(t *testing.T, browser context.Context, h *Hub, tina *window, theo apiClient, theoID int64) {
	tina = tina.with(t)
	alice := openWindow(t, browser, h.BaseURL, "alice", customerW, customerH)
	alice.open(fmt.Sprintf("/c/%d?name=Alice", channel1))
	alice.until("the prefilled channel form", `document.getElementById('cfield0').value === 'Alice'`)
	alice.fill("#cfield1", "Laptop")
	alice.fill("#tracking", "CASE-7")
	alice.shot("customer-channel-form")
	alice.click("#channel-submit")
	alice.until("the waiting page", `!document.getElementById('panel-waiting').hidden`)
	alice.until("the estimate or position", `document.getElementById('waiting-position').textContent !== ''`)
	alice.shot("customer-waiting")

	tina.until("the new session in the queue", `[...document.querySelectorAll('#queue-body .customer-name')].some(td => td.textContent === 'Alice')`)
	id := evalIn[int64](tina, `Number([...document.querySelectorAll('#queue-body tr')].find(tr => tr.querySelector('.customer-name').textContent === 'Alice').dataset.session)`)
	tina.until("a 'new session' event", `document.getElementById('queue-events').textContent.includes('New session #`+fmt.Sprint(id)+`')`)
	tina.shot("console-queue")
	tina.click(fmt.Sprintf(`#queue-body tr[data-session="%d"] .pickup`, id))
	pane := fmt.Sprintf(`.pane[data-session="%d"]`, id)
	tina.until("the session pane", `document.querySelector('`+pane+` .pane-state').textContent === 'Active'`)

	alice.until("the chat", `!document.getElementById('panel-chat').hidden`)
	techSays(tina, id, "all", "Hello Alice, how can I help?")
	logHas(alice, "#chat-log", "Hello Alice, how can I help?")
	customerSays(alice, "My printer is on fire")
	logHas(tina, pane+" .chat-log", "My printer is on fire")
	techSays(tina, id, "note", "Customer on a 2019 model")
	logHas(tina, pane+" .chat-log", "Customer on a 2019 model")
	tina.shot("console-session")
	alice.shot("customer-chat")

	// SESS-10: transfer to Theo with a comment; Theo picks it up and closes it.
	tina.choose(pane+" .transfer-target", fmt.Sprintf("technician:%d", theoID))
	tina.click(pane + " .pane-transfer summary")
	tina.fill(pane+" .transfer-comment", "printer expert")
	tina.click(pane + " .transfer-form button[type=submit]")
	tina.until("the pane marked transferred", `document.querySelector('`+pane+`').classList.contains('ended')`)
	// A transfer to a named technician lands with them; picking it up is
	// only needed when it waits in their queue.
	if code, out := theo.with(t).call("POST", fmt.Sprintf("/api/v1/sessions/%d/pickup", id), nil); code != 200 && code != 409 {
		t.Fatalf("Theo picks up: %d %v", code, out)
	}
	// A transfer to a named technician lands with them; picking it up is
	// only needed when it waits in their queue.
	if code, out := theo.with(t).call("POST", fmt.Sprintf("/api/v1/sessions/%d/pickup", id), nil); code != 200 && code != 409 {
		t.Fatalf("Theo picks up: %d %v", code, out)
	}
	alice.until("the chat active again", `document.getElementById('chat-state').textContent === 'A technician is with you.'`)
	theo.with(t).must("POST", fmt.Sprintf("/api/v1/sessions/%d/close", id), nil)
	alice.until("the end page", `location.pathname === '/s/end'`)
	if got := alice.text("#end-text"); got != "The technician ended the session. Thank you." {
		t.Errorf("end text = %q", got)
	}
	alice.shot("customer-end")
}

func pinSession(t *testing.T, browser context.Context, h *Hub, tina *window) {
	tina = tina.with(t)
	tina.fill("#private-cfield0", "Bob")
	tina.fill("#private-tracking", "CASE-8")
	tina.click("#private-submit")
	tina.until("a PIN", `/^[0-9]{6}$/.test(document.getElementById('private-pin').textContent)`)
	pin := tina.text("#private-pin")
	if inv := evalIn[string](tina, `document.getElementById('private-invitation').value`); !strings.Contains(inv, pin) {
		t.Errorf("the invitation e-mail does not carry the PIN %s: %q", pin, inv)
	}
	tina.shot("console-private-session")

	bob := openWindow(t, browser, h.BaseURL, "bob", customerW, customerH)
	bob.open("/pin")
	wrong := "000000"
	if pin == wrong {
		wrong = "000001"
	}
	bob.fill("#pin", wrong)
	bob.click("#pin-submit")
	bob.until("a clear message", `(document.getElementById('page-error')||{}).textContent === 'This code is unknown. Check the 6 digits and try again.'`)
	bob.shot("customer-pin-unknown")
	bob.fill("#pin", pin)
	bob.click("#pin-submit")
	bob.until("the waiting page", `location.pathname === '/s' && !document.getElementById('panel-waiting').hidden`)

	tina.until("Bob in the queue", `[...document.querySelectorAll('#queue-body .customer-name')].some(td => td.textContent === 'Bob')`)
	id := evalIn[int64](tina, `Number([...document.querySelectorAll('#queue-body tr')].find(tr => tr.querySelector('.customer-name').textContent === 'Bob').dataset.session)`)
	tina.click(fmt.Sprintf(`#queue-body tr[data-session="%d"] .pickup`, id))
	pane := fmt.Sprintf(`.pane[data-session="%d"]`, id)
	tina.until("the pane", `document.querySelector('`+pane+` .pane-state').textContent === 'Active'`)
	bob.until("the chat", `!document.getElementById('panel-chat').hidden`)
	techSays(tina, id, "all", "Hi Bob")
	customerSays(bob, "before reload")
	logHas(tina, pane+" .chat-log", "before reload")
	techSays(tina, id, "technicians", "internal remark")
	logHas(tina, pane+" .chat-log", "internal remark")

	// A reload mid-chat loses nothing and repeats nothing.
	bob.do(chromedp.Reload())
	bob.until("the chat after reload", `!document.getElementById('panel-chat').hidden`)
	logHas(bob, "#chat-log", "Hi Bob")
	logHas(bob, "#chat-log", "before reload")
	techSays(tina, id, "all", "after reload")
	logHas(bob, "#chat-log", "after reload")
	customerSays(bob, "still here")
	logHas(tina, pane+" .chat-log", "still here")
	// The customer's own line gets its sequence number when the hub echoes it.
	bob.until("own line numbered", `[...document.querySelectorAll('#chat-log li.chat[data-seq] .body')].some(b => b.textContent === 'still here')`)
	lines := evalIn[[]string](bob, `[...document.querySelectorAll('#chat-log li.chat[data-seq] .body')].map(b => b.textContent)`)
	want := []string{"Hi Bob", "before reload", "after reload", "still here"}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Errorf("customer chat after reload = %q, want %q (technician-only lines must not show)", lines, want)
	}

	// Hold and resume, then close from the console.
	tina.click(pane + " .hold")
	bob.until("on hold", `document.getElementById('chat-state').textContent === 'Your session is on hold.'`)
	tina.click(pane + " .resume")
	bob.until("active", `document.getElementById('chat-state').textContent === 'A technician is with you.'`)
	tina.click(pane + " .close")
	bob.until("the end page", `location.pathname === '/s/end'`)
	tina.until("the pane ended", `document.querySelector('`+pane+`').classList.contains('ended')`)
}

func hostileInput(t *testing.T, browser context.Context, h *Hub, tina *window) {
	tina = tina.with(t)
	eve := openWindow(t, browser, h.BaseURL, "eve", customerW, customerH)
	eve.open(fmt.Sprintf("/c/%d", channel1))
	eve.fill("#cfield0", hostileName)
	eve.fill("#cfield1", hostileField)
	eve.fill("#tracking", `"><svg onload="window.__xss='tracking'">`)
	eve.click("#channel-submit")
	eve.until("the waiting page", `!document.getElementById('panel-waiting').hidden`)

	tina.until("the hostile name as text", `[...document.querySelectorAll('#queue-body .customer-name')].some(td => td.textContent === `+jsString(hostileName)+`)`)
	id := evalIn[int64](tina, `Number([...document.querySelectorAll('#queue-body tr')].find(tr => tr.querySelector('.customer-name').textContent === `+jsString(hostileName)+`).dataset.session)`)
	tina.click(fmt.Sprintf(`#queue-body tr[data-session="%d"] .pickup`, id))
	pane := fmt.Sprintf(`.pane[data-session="%d"]`, id)
	tina.until("the fields as text", `document.querySelector('`+pane+` .pane-info').textContent.includes(`+jsString(hostileField)+`)`)
	eve.until("the chat", `!document.getElementById('panel-chat').hidden`)
	customerSays(eve, hostileChat)
	logHas(tina, pane+" .chat-log", hostileChat)
	techSays(tina, id, "all", hostileChat)
	logHas(eve, "#chat-log", hostileChat)
	tina.shot("console-hostile-input")
	for _, w := range []*window{tina, eve} {
		if got := evalIn[string](w, `String(window.__xss)`); got != "undefined" {
			t.Errorf("%s: a payload ran: window.__xss = %s", w.name, got)
		}
		if n := evalIn[int](w, `document.querySelectorAll('main img, main svg, main b, main script:not([src])').length`); n != 0 {
			t.Errorf("%s: %d elements were made from user input", w.name, n)
		}
	}
	tina.click(pane + " .close")
	eve.until("the end page", `location.pathname === '/s/end'`)
}
